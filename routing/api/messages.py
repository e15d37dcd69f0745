"""GET /api/v1/messages/<id> and GET /api/v1/messages?conversation_id=...: patients'
messages for the integration of their clinic (the portal or EHR, with messages:read) and
for staff who may read their threads. Here, above inbox, because a person's right to read
a thread is routing's scope of practice (routing.selectors.require_work_role).

POST /api/v1/messages is the portal's intake (inbox.api.views.ReceiveMessageApi); the
same URL serves it here, still to integrations only."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsIntegration, TokenScope
from accounts.selectors import integration_of
from config.pagination import CheckedCursorPagination
from inbox.api.views import ReceiveMessageApi
from inbox.models import PatientDataAccess
from routing.selectors import access_message, conversation_messages, messages_shown


class MessageOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    clinic = serializers.CharField(source="clinic.slug")
    conversation = serializers.IntegerField(source="conversation_id")
    conversation_id = serializers.CharField(source="conversation.external_id")
    patient_mrn = serializers.CharField(source="conversation.patient.mrn")
    subject = serializers.CharField()
    body = serializers.CharField()
    category = serializers.CharField()
    sent_at = serializers.DateTimeField()
    status = serializers.CharField()
    received_at = serializers.DateTimeField(source="created_at")


class ConversationPagination(CheckedCursorPagination):
    ordering = ("id",)  # the order they arrived in: a thread reads top to bottom
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"


class MessagesApi(ReceiveMessageApi):
    """POST: the portal's intake (integrations, messages:write). GET ?conversation_id=X
    [&clinic=SLUG]: the conversation's messages, oldest first, cursor-paged: for the
    integration of its clinic (messages:read) and the clinic's clinical staff; another
    clinic's conversation 404, billing and administrators 403 with the reason."""

    required_scopes = {"GET": "messages:read", "POST": "messages:write"}

    def get_permissions(self):
        if self.request is not None and self.request.method == "POST":
            return [IsAuthenticated(), IsIntegration(), TokenScope()]
        # Reads: integrations and staff alike; the selector decides by clinic and role.
        return [IsAuthenticated(), TokenScope()]

    class ListQuerySerializer(serializers.Serializer):
        conversation_id = serializers.CharField(max_length=128)
        clinic = serializers.SlugField(max_length=64, required=False)

    @extend_schema(
        operation_id="messages_list",
        parameters=[
            OpenApiParameter("conversation_id", str, required=True),
            OpenApiParameter("clinic", str, description="Needed only when ambiguous."),
            OpenApiParameter("cursor", str),
            OpenApiParameter("page_size", int),
        ],
        # The cursor page as CursorPagination answers it (next/previous are full URLs).
        responses=inline_serializer(
            "MessagePage",
            {
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": MessageOutputSerializer(many=True),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        query = self.ListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        messages = conversation_messages(
            user=request.user,
            integration=integration_of(request.user),
            conversation_external_id=query.validated_data["conversation_id"],
            clinic_slug=query.validated_data.get("clinic", ""),
        )
        paginator = ConversationPagination()
        page = paginator.paginate_queryset(messages, request, view=self)
        # DRF cut the page: the access log holds exactly what the answer holds.
        messages_shown(
            user=request.user, messages=page, viewed_as=PatientDataAccess.What.MESSAGE_LIST_API
        )
        return paginator.get_paginated_response(MessageOutputSerializer(page, many=True).data)


class MessageDetailApi(APIView):
    """GET /api/v1/messages/<id>: one message, by the same rules as the list."""

    permission_classes = [IsAuthenticated, TokenScope]
    required_scopes = {"GET": "messages:read"}

    @extend_schema(responses=MessageOutputSerializer)
    def get(self, request: Request, message_id: int) -> Response:
        message = access_message(
            user=request.user,
            integration=integration_of(request.user),
            message_id=message_id,
            viewed_as=PatientDataAccess.What.MESSAGE_API,
        )
        return Response(MessageOutputSerializer(message).data)
