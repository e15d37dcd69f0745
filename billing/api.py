from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.models import TimeEntry
from billing.selectors import (
    STATUS_FILTERS,
    access_evisit,
    evisit_list,
    require_billing,
    time_entries_for,
)
from billing.services import log_minutes
from config.input import ID_MAX
from config.pagination import CheckedCursorPagination
from inbox.models import PatientDataAccess


class EVisitListApi(APIView):
    """GET /api/v1/billing/evisits?status=ready: billing role only (else 404)."""

    required_scopes = {"GET": "billing:read"}

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

    @extend_schema(
        operation_id="billing_evisits_list",
        parameters=[OpenApiParameter("status", str, enum=sorted(STATUS_FILTERS))],
        responses=inline_serializer("EVisitList", {"results": OutputSerializer(many=True)}),
    )
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

    required_scopes = {"POST": "time:write"}

    class InputSerializer(serializers.Serializer):
        minutes = serializers.IntegerField(min_value=1, max_value=240)

    @extend_schema(
        responses={
            201: inline_serializer(
                "TimeEntryCreated",
                {
                    "id": serializers.IntegerField(),
                    "conversation": serializers.IntegerField(),
                    "seconds": serializers.IntegerField(allow_null=True),
                },
            )
        }
    )
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


class EVisitDetailApi(APIView):
    """GET /api/v1/billing/evisits/<id>: one e-visit with the reasons behind its code,
    billing role only (another clinic's, or anyone else: 404); written to the access log.
    Not for integrations: the claims file is how billing data leaves (least privilege)."""

    required_scopes = {"GET": "billing:read"}

    class OutputSerializer(EVisitListApi.OutputSerializer):
        window_start = serializers.DateTimeField()
        window_end = serializers.DateTimeField(allow_null=True)
        rendering_clinician = serializers.CharField(
            source="rendering_clinician.username", default=None
        )
        explanation = serializers.JSONField()
        decision_reason = serializers.CharField()
        reviewed_by = serializers.CharField(source="reviewed_by.username", default=None)
        reviewed_at = serializers.DateTimeField(allow_null=True)
        export = serializers.IntegerField(source="export_id", allow_null=True)

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request, evisit_id: int) -> Response:
        evisit = access_evisit(
            user=request.user,
            evisit_id=evisit_id,
            viewed_as=PatientDataAccess.What.EVISIT_RECORD_API,
        )
        return Response(self.OutputSerializer(evisit).data)


class TimeEntryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    conversation = serializers.IntegerField(source="conversation_id")
    work_item = serializers.IntegerField(source="work_item_id", allow_null=True)
    user = serializers.CharField(source="user.username")
    role = serializers.CharField()
    credential = serializers.CharField()
    source = serializers.CharField()
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    seconds = serializers.IntegerField()


class TimeEntryPagination(CheckedCursorPagination):
    ordering = ("id",)
    page_size = 100
    max_page_size = 500
    page_size_query_param = "page_size"


class TimeEntryListApi(generics.ListAPIView):
    """GET /api/v1/time-entries?conversation=ID: the time logged on a conversation, as
    the caller's job needs it (billing.selectors.time_entries_for): billing, all the time
    behind an e-visit; a clinician, their own; an administrator, none (403). No patient
    is named (ids, people, minutes)."""

    required_scopes = {"GET": "work:read"}
    serializer_class = TimeEntryOutputSerializer
    pagination_class = TimeEntryPagination

    class QuerySerializer(serializers.Serializer):
        conversation = serializers.IntegerField(min_value=1, max_value=ID_MAX)

    @extend_schema(
        parameters=[OpenApiParameter("conversation", int, required=True)],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[TimeEntry]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator: no user
            return TimeEntry.objects.none()
        query = self.QuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return time_entries_for(
            user=self.request.user, conversation_id=query.validated_data["conversation"]
        )
