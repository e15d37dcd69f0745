"""GET /api/v1/queues and GET /api/v1/routing-rules: a clinic's routing configuration,
read only (it is changed in the admin, where every change is checked and recorded).
Neither names a patient."""

from django.db.models import QuerySet
from rest_framework import generics, serializers

from config.pagination import CheckedCursorPagination
from routing.models import Queue, RoutingRule
from routing.selectors import queues_for_reading, routing_rules_for_reading


class IdPagination(CheckedCursorPagination):
    ordering = ("id",)
    page_size = 100
    max_page_size = 500
    page_size_query_param = "page_size"


class RuleOrderPagination(IdPagination):
    ordering = ("order", "id")  # the order a clinic's rules are tried in


class QueueOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    clinic = serializers.CharField(source="clinic.slug")
    role = serializers.CharField()
    name = serializers.CharField()
    is_role_default = serializers.BooleanField()


class QueueListApi(generics.ListAPIView):
    """GET /api/v1/queues: the queues of the clinics the caller administers or works in
    (their ids are what the work-item filter and reassign take); billing staff and
    anyone else: 404."""

    required_scopes = {"GET": "admin:read"}
    serializer_class = QueueOutputSerializer
    pagination_class = IdPagination

    def get_queryset(self) -> QuerySet[Queue]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator: no user
            return Queue.objects.none()
        return queues_for_reading(user=self.request.user)


class RoutingRuleOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    clinic = serializers.CharField(source="clinic.slug")
    name = serializers.CharField()
    order = serializers.IntegerField()
    enabled = serializers.BooleanField()
    conditions = serializers.JSONField()
    action = serializers.JSONField()
    updated_by = serializers.CharField(source="updated_by.username", default=None)
    updated_at = serializers.DateTimeField()


class RoutingRuleListApi(generics.ListAPIView):
    """GET /api/v1/routing-rules: the rules of the clinics the caller administers, in
    the order they are tried (routing/rules.py says what conditions and actions mean);
    to anyone else the list does not exist (404)."""

    required_scopes = {"GET": "admin:read"}
    serializer_class = RoutingRuleOutputSerializer
    pagination_class = RuleOrderPagination

    def get_queryset(self) -> QuerySet[RoutingRule]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator: no user
            return RoutingRule.objects.none()
        return routing_rules_for_reading(user=self.request.user)
