"""GET /api/v1/messages/<id> and GET /api/v1/messages?conversation_id=...: patients'
messages for the integration of their clinic (the portal or EHR, with messages:read) and
for staff who may read their threads. Here, above inbox, because a person's right to read
a thread is routing's scope of practice (routing.selectors.require_work_role).

POST /api/v1/messages is the portal's intake (inbox.api.views.ReceiveMessageApi); the
same URL serves it here, still to integrations only. POST /api/v1/messages:batch is the
same intake for up to 500 messages at once (MessagesBatchApi)."""

from django.http import Http404
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsIntegration, TokenScope
from accounts.selectors import integration_of
from config.pagination import CheckedCursorPagination
from inbox.api.views import ReceiveMessageApi
from inbox.exceptions import ConversationBelongsToAnotherPatient
from inbox.models import PatientDataAccess
from inbox.selectors import integration_clinic
from inbox.services import (
    BatchItemOutcome,
    IncomingMessage,
    PatientDetails,
    receive_messages_batch,
)
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


BATCH_MAX_MESSAGES = 500


@extend_schema_field(ReceiveMessageApi.InputSerializer(many=True))
class BatchMessagesField(serializers.ListField):
    """The batch's messages, each checked on its own by the single intake's serializer (in
    the view), so that one bad message does not refuse the others: here only the list."""


class BatchResultSerializer(serializers.Serializer):
    position = serializers.IntegerField(help_text="The message's index in the request.")
    outcome = serializers.ChoiceField(choices=[o.value for o in BatchItemOutcome])
    id = serializers.IntegerField(
        allow_null=True,
        help_text="The stored message (new, or posted before); null when rejected.",
    )
    code = serializers.CharField(
        required=False,
        help_text="When rejected: invalid, not_found or conversation_patient_mismatch.",
    )
    detail = serializers.CharField(required=False, help_text="When rejected: why, in words.")
    errors = serializers.DictField(
        required=False,
        help_text="When rejected as invalid: what is wrong with each field, by field name.",
    )


class MessagesBatchApi(APIView):
    """POST /api/v1/messages:batch: up to 500 messages, each as POST /api/v1/messages takes
    it, stored together (one transaction, a handful of queries). 200 with one result per
    message in the request's order, whatever became of each: created, already_present
    (the same external_id was posted before, or earlier in the batch: the stored id) or
    rejected (with the reason; the other messages are stored all the same). A body that is
    not {"messages": [...]} with 1 to 500 items is 400 and nothing is stored."""

    permission_classes = [IsAuthenticated, IsIntegration, TokenScope]
    required_scopes = {"POST": "messages:write"}

    class InputSerializer(serializers.Serializer):
        default_error_messages = {
            # str.format()ted by DRF: the JSON's braces doubled.
            "invalid": 'Send a JSON object {{"messages": [...]}} with 1 to 500 messages, '
            "each as POST /api/v1/messages takes it; got a {datatype}."
        }
        messages = BatchMessagesField(
            allow_empty=False,
            min_length=1,
            max_length=BATCH_MAX_MESSAGES,
            error_messages={
                "not_a_list": "A list of messages, each as POST /api/v1/messages takes it.",
                "empty": "The batch holds no message.",
                "min_length": "The batch holds no message.",
                "max_length": "A batch holds at most {max_length} messages: split it into "
                "several requests.",
            },
        )

    class OutputSerializer(serializers.Serializer):
        created = serializers.IntegerField()
        already_present = serializers.IntegerField()
        rejected = serializers.IntegerField()
        results = BatchResultSerializer(many=True)

    @extend_schema(
        operation_id="messages_batch_create",
        tags=["messages"],
        responses={
            200: OpenApiResponse(
                OutputSerializer,
                description="One result per message, in the request's order, whatever "
                "became of each (also when every one was rejected).",
            )
        },
    )
    def post(self, request: Request) -> Response:
        batch = self.InputSerializer(data=request.data)
        batch.is_valid(raise_exception=True)
        integration = integration_of(request.user)
        results: list[dict] = []
        valid: list[tuple[int, IncomingMessage]] = []
        # One serializer for every message: DRF deep-copies its fields per instance.
        check = ReceiveMessageApi.InputSerializer()
        for position, item in enumerate(batch.validated_data["messages"]):
            try:
                data = check.run_validation(item)  # what is_valid() runs
                integration_clinic(integration=integration, clinic_slug=data["clinic"])
            except serializers.ValidationError as refusal:
                results.append(_rejected(position, "invalid", errors=refusal.detail))
                continue
            except Http404:
                # As the single intake answers: never confirming another clinic exists.
                results.append(_rejected(position, "not_found"))
                continue
            results.append({"position": position})  # filled in below
            valid.append((position, _incoming(data)))
        if valid:
            outcome = receive_messages_batch(
                clinic=integration.clinic,
                incoming=[one for _, one in valid],
                source=integration,
                announce_together=True,
            )
            for (position, _), stored in zip(valid, outcome.items, strict=True):
                if stored.outcome == BatchItemOutcome.REJECTED:
                    results[position] = _rejected(
                        position, ConversationBelongsToAnotherPatient.code, detail=stored.reason
                    )
                else:
                    results[position].update(outcome=stored.outcome, id=stored.message_id)
        counts = {o.value: 0 for o in BatchItemOutcome}
        for result in results:
            counts[result["outcome"]] += 1
        return Response(self.OutputSerializer({**counts, "results": results}).data)


_REJECTED_DETAIL = {
    "invalid": "The message has missing or invalid fields.",
    "not_found": "No clinic with this slug for this integration.",
}


def _rejected(position: int, code: str, *, detail: str = "", errors=None) -> dict:
    result = {
        "position": position,
        "outcome": BatchItemOutcome.REJECTED,
        "id": None,
        "code": code,
        "detail": detail or _REJECTED_DETAIL[code],
    }
    if errors is not None:
        result["errors"] = errors
    return result


def _incoming(data: dict) -> IncomingMessage:
    return IncomingMessage(
        external_id=data["external_id"],
        patient=PatientDetails(**data["patient"]),
        subject=data.get("subject", ""),
        body=data["body"],
        category=data.get("category", ""),
        sent_at=data.get("sent_at"),
        conversation_external_id=data.get("conversation_id", ""),
    )
