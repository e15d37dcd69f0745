from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.models import TimeEntry
from billing.selectors import STATUS_FILTERS, evisit_list, require_billing
from billing.services import log_minutes
from inbox.models import PatientDataAccess


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
        require_billing(user=request.user)  # 404 before any hint that the filter exists
        wanted = request.query_params.get("status")
        if wanted is not None and wanted not in STATUS_FILTERS:
            raise serializers.ValidationError(
                {"status": [f"Choose one of: {', '.join(sorted(STATUS_FILTERS))}."]}
            )
        shown = evisit_list(
            user=request.user, viewed_as=PatientDataAccess.What.EVISIT_LIST_API, status=wanted
        )
        return Response({"results": self.OutputSerializer(shown, many=True).data})


class TimeEntryCreateApi(APIView):
    """POST /api/v1/work-items/<id>/time {"minutes": 12}: clinician time from another
    system (dictation, EHR timer). Same rules as the staff screen's manual minutes."""

    class InputSerializer(serializers.Serializer):
        minutes = serializers.IntegerField(min_value=1, max_value=240)

    def post(self, request: Request, item_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = log_minutes(
            actor=request.user,
            item_id=item_id,
            minutes=data.validated_data["minutes"],
            source=TimeEntry.Source.API,
        )
        return Response(
            {"id": entry.pk, "conversation": entry.conversation_id, "seconds": entry.seconds},
            status=201,
        )
