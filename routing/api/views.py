from rest_framework import serializers
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inbox.models import PatientDataAccess
from routing.selectors import access_queue, open_work_items, work_items_shown


class QueueOrderPagination(CursorPagination):
    # Keyset pagination in queue order: stable while items arrive, flat as history grows.
    ordering = ("acuity_rank", "due_at", "id")
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"


class WorkItemListApi(APIView):
    """GET /api/v1/work-items?queue=ID: open work, most acute first, then earliest due."""

    class OutputSerializer(serializers.Serializer):
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

    def get(self, request: Request) -> Response:
        queue = None
        queue_id = request.query_params.get("queue")
        if queue_id is not None:
            if not queue_id.isdigit():
                raise serializers.ValidationError({"queue": ["A queue id is a number."]})
            queue = access_queue(user=request.user, queue_id=int(queue_id))
        paginator = QueueOrderPagination()
        page = paginator.paginate_queryset(
            open_work_items(user=request.user, queue=queue), request, view=self
        )
        # DRF cut the page: the selector logs the patients of exactly these rows.
        work_items_shown(
            user=request.user, items=page, viewed_as=PatientDataAccess.What.QUEUE_LIST_API
        )
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)
