from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.selectors import evisits_for_billing


class EVisitListApi(APIView):
    """GET /api/v1/billing/evisits?status=ready: billing role only (else 404)."""

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        clinic = serializers.CharField(source="clinic.slug")
        conversation = serializers.IntegerField(source="conversation_id")
        mrn = serializers.CharField(source="conversation.patient.mrn")
        status = serializers.CharField()
        code = serializers.CharField()
        minutes = serializers.IntegerField()
        service_date = serializers.DateField()
        amount = serializers.DecimalField(max_digits=8, decimal_places=2, allow_null=True)
        reasons = serializers.ListField(child=serializers.CharField())
        needs_consent = serializers.BooleanField()

    def get(self, request: Request) -> Response:
        items = evisits_for_billing(user=request.user, status=request.query_params.get("status"))
        return Response({"results": self.OutputSerializer(items[:500], many=True).data})
