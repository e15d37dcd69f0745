"""GET /api/v1/work-items (filtered, cursor-paged) and GET /api/v1/work-items/<id>: the
same reads, by the same rules, as the staff screens (routing.selectors)."""

from django import forms
from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.input import ID_MAX
from inbox.models import PatientDataAccess
from routing.api.views import QueueOrderPagination
from routing.models import WorkItem
from routing.selectors import (
    OPEN_STATUSES,
    access_queue,
    access_work_item,
    readable_work_items,
    work_items_shown,
)
from triage.ml.labels import Acuity


class IdFilter(filters.Filter):
    # A whole number in our id range: "1.5", "1e3" and 20 digits are a 400, not a lookup.
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", ID_MAX)
        super().__init__(*args, **kwargs)


class WorkItemFilter(filters.FilterSet):
    """Every filter is checked: an unknown acuity or status, a malformed date or a queue
    id that is not a number answers 400 with the field; without `status`, the open work
    (open and claimed), as the queue screens show it."""

    queue = IdFilter(method="filter_queue", help_text="A queue id (GET /api/v1/queues).")
    acuity = filters.ChoiceFilter(choices=Acuity.choices)
    status = filters.ChoiceFilter(
        choices=WorkItem.Status.choices, help_text="Default: open and claimed items."
    )
    due_before = filters.IsoDateTimeFilter(
        field_name="due_at", lookup_expr="lt", help_text="Due strictly before (ISO 8601)."
    )
    due_after = filters.IsoDateTimeFilter(
        field_name="due_at", lookup_expr="gte", help_text="Due at or after (ISO 8601)."
    )

    class Meta:
        model = WorkItem
        fields = ("queue", "acuity", "status", "due_before", "due_after")

    def filter_queue(self, items: QuerySet[WorkItem], name: str, value: int) -> QuerySet:
        # Another clinic's queue is 404 and a queue of a role that works none is 403, as
        # on the screens, not an empty page that confirms the id means something.
        return items.filter(queue=access_queue(user=self.request.user, queue_id=value))

    def filter_queryset(self, queryset: QuerySet[WorkItem]) -> QuerySet[WorkItem]:
        if not self.form.cleaned_data.get("status"):
            queryset = queryset.filter(status__in=OPEN_STATUSES)
        return super().filter_queryset(queryset)


class WorkItemOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    queue = serializers.IntegerField(source="queue_id")
    queue_name = serializers.CharField(source="queue.name")
    message = serializers.IntegerField(source="message_id")
    subject = serializers.CharField(source="message.subject")
    acuity = serializers.CharField()
    service_level = serializers.CharField()
    status = serializers.CharField()
    due_at = serializers.DateTimeField()
    claimed_by = serializers.CharField(source="claimed_by.username", default=None)
    routing_reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class WorkItemListApi(generics.ListAPIView):
    """GET /api/v1/work-items?queue=&acuity=&status=&due_before=&due_after=: the work of
    the clinics where the caller works messages, most acute first, then earliest due."""

    required_scopes = {"GET": "work:read"}
    serializer_class = WorkItemOutputSerializer
    pagination_class = QueueOrderPagination
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = WorkItemFilter

    def get_queryset(self) -> QuerySet[WorkItem]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator: no user
            return WorkItem.objects.none()
        return readable_work_items(user=self.request.user)

    def list(self, request: Request, *args, **kwargs) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        # DRF cut the page: the selector logs the patients of exactly these rows.
        work_items_shown(
            user=request.user, items=page, viewed_as=PatientDataAccess.What.QUEUE_LIST_API
        )
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class WorkItemDetailSerializer(WorkItemOutputSerializer):
    """One item as its page shows it: the message, the patient it is from, the labels."""

    clinic = serializers.CharField(source="clinic.slug")
    conversation = serializers.IntegerField(source="conversation_id")
    conversation_id = serializers.CharField(source="conversation.external_id")
    patient_mrn = serializers.CharField(source="conversation.patient.mrn")
    patient_name = serializers.CharField(source="conversation.patient.name")
    preferred_language = serializers.CharField(source="conversation.patient.preferred_language")
    body = serializers.CharField(source="message.body")
    category = serializers.CharField(source="message.category")
    sent_at = serializers.DateTimeField(source="message.sent_at")
    claimed_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    escalation_level = serializers.IntegerField()
    breached_at = serializers.DateTimeField(allow_null=True)


class WorkItemDetailApi(APIView):
    """GET /api/v1/work-items/<id>: one item with its message, for staff who may read it
    (another clinic's 404; billing and administrators 403 with the reason); written to
    the access log."""

    required_scopes = {"GET": "work:read"}

    @extend_schema(responses=WorkItemDetailSerializer)
    def get(self, request: Request, item_id: int) -> Response:
        item = access_work_item(
            user=request.user, item_id=item_id, viewed_as=PatientDataAccess.What.WORK_ITEM_API
        )
        return Response(WorkItemDetailSerializer(item).data)
