from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_schema import error_responses
from config.input import ID_MAX
from config.pagination import CheckedCursorPagination
from routing import corrections, work_items
from routing.selectors import access_work_item


class QueueOrderPagination(CheckedCursorPagination):
    # Keyset pagination in queue order: stable while items arrive, flat as history grows.
    ordering = ("acuity_rank", "due_at", "id")
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"


# --- actions on one work item: thin, each calls one routing.work_items service ----------


class WorkItemStateSerializer(serializers.Serializer):
    """Where an item stands after an action: no patient data."""

    id = serializers.IntegerField()
    status = serializers.CharField()
    queue = serializers.IntegerField(source="queue_id")
    acuity = serializers.CharField()
    service_level = serializers.CharField()
    claimed_by = serializers.CharField(source="claimed_by.username", default=None, allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    closed_by = serializers.CharField(source="closed_by.username", default=None, allow_null=True)


class WorkItemActionApi(APIView):
    """POST /api/v1/work-items/<id>/<action>: 200 with the item as it now stands; a
    refusal answers its DomainError (403 outside the scope of practice, 409 closed or
    taken, 400 missing a reason), another clinic's item 404."""

    required_scopes = {"POST": "work:write"}

    class InputSerializer(serializers.Serializer):
        pass

    def act(self, request: Request, item_id: int, data: dict) -> None:
        raise NotImplementedError

    @extend_schema(responses={200: WorkItemStateSerializer, **error_responses(409)})
    def post(self, request: Request, item_id: int) -> Response:
        form = self.InputSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        self.act(request, item_id, form.validated_data)
        item = access_work_item(user=request.user, item_id=item_id, viewed_as=None)
        return Response(WorkItemStateSerializer(item).data)


class ClaimWorkItemApi(WorkItemActionApi):
    def act(self, request: Request, item_id: int, data: dict) -> None:
        work_items.claim(actor=request.user, item_id=item_id)


class ReplyWorkItemApi(WorkItemActionApi):
    class InputSerializer(serializers.Serializer):
        body = serializers.CharField(allow_blank=True, trim_whitespace=False)

    def act(self, request: Request, item_id: int, data: dict) -> None:
        work_items.respond(actor=request.user, item_id=item_id, body=data["body"])


class CloseWorkItemApi(WorkItemActionApi):
    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(allow_blank=True, required=False, default="")

    def act(self, request: Request, item_id: int, data: dict) -> None:
        work_items.close(actor=request.user, item_id=item_id, reason=data["reason"])


class ReopenWorkItemApi(WorkItemActionApi):
    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(allow_blank=True)

    def act(self, request: Request, item_id: int, data: dict) -> None:
        work_items.reopen(actor=request.user, item_id=item_id, reason=data["reason"])


class ReassignWorkItemApi(WorkItemActionApi):
    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(allow_blank=True)
        role = serializers.CharField(required=False)
        queue_id = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)
        person_id = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)

    def act(self, request: Request, item_id: int, data: dict) -> None:
        work_items.reassign(
            actor=request.user,
            item_id=item_id,
            reason=data["reason"],
            role=data.get("role"),
            queue_id=data.get("queue_id"),
            person_id=data.get("person_id"),
        )


class CorrectWorkItemApi(WorkItemActionApi):
    """POST {"label": "acuity", "to": "urgent", "reason": "..."} or {"label": "evisit",
    "to": "false"}: the classifier's label was wrong (routing.corrections)."""

    class InputSerializer(serializers.Serializer):
        label = serializers.CharField()
        to = serializers.CharField()
        reason = serializers.CharField(allow_blank=True, required=False, default="", max_length=500)

    def act(self, request: Request, item_id: int, data: dict) -> None:
        corrections.correct_label(
            actor=request.user,
            item_id=item_id,
            label=data["label"],
            to=data["to"],
            reason=data["reason"],
        )
