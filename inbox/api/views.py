from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsIntegration, TokenScope
from accounts.selectors import integration_of
from config.pagination import CheckedCursorPagination
from inbox.models import PatientDataAccess
from inbox.selectors import integration_clinic, replies_shown, undelivered_replies
from inbox.services import IncomingMessage, PatientDetails, confirm_delivered, receive_message
from inbox.validators import (
    normalise_language,
    validate_birth_date,
    validate_phone,
    validate_sent_at,
)


class PatientInputSerializer(serializers.Serializer):
    mrn = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    birth_date = serializers.DateField(
        required=False, allow_null=True, validators=[validate_birth_date]
    )
    preferred_language = serializers.CharField(max_length=16, required=False)
    on_chemotherapy = serializers.BooleanField(required=False, allow_null=True, default=None)
    # One clear error for any bad value (the 40-character limit is the validator's).
    phone = serializers.CharField(required=False, allow_blank=True, validators=[validate_phone])

    def validate_preferred_language(self, value: str) -> str:
        # Stored as the known code's own spelling: routing rules match "es", not "ES".
        return normalise_language(value)


class ReceiveMessageApi(APIView):
    """POST /api/v1/messages: 201 with the new message, or 200 with the stored one when
    the same external_id was posted before (the portal may safely retry)."""

    permission_classes = [IsAuthenticated, IsIntegration, TokenScope]
    required_scopes = {"POST": "messages:write"}

    class InputSerializer(serializers.Serializer):
        external_id = serializers.CharField(max_length=128)
        clinic = serializers.SlugField(max_length=64)
        patient = PatientInputSerializer()
        subject = serializers.CharField(max_length=300, required=False, allow_blank=True)
        body = serializers.CharField(
            max_length=settings.MESSAGE_BODY_MAX_CHARS, trim_whitespace=True
        )
        category = serializers.CharField(max_length=64, required=False, allow_blank=True)
        sent_at = serializers.DateTimeField(required=False, validators=[validate_sent_at])
        conversation_id = serializers.CharField(max_length=128, required=False, allow_blank=True)

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        external_id = serializers.CharField()
        clinic = serializers.CharField(source="clinic.slug")
        conversation_id = serializers.CharField(source="conversation.external_id")
        status = serializers.CharField()
        received_at = serializers.DateTimeField(source="created_at")

    @extend_schema(
        responses={
            201: OutputSerializer,
            200: OpenApiResponse(
                OutputSerializer, description="Posted before (same external_id): the stored one."
            ),
        }
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        integration = integration_of(request.user)
        clinic = integration_clinic(integration=integration, clinic_slug=data["clinic"])
        message, created = receive_message(
            clinic=clinic,
            source=integration,
            incoming=IncomingMessage(
                external_id=data["external_id"],
                patient=PatientDetails(**data["patient"]),
                subject=data.get("subject", ""),
                body=data["body"],
                category=data.get("category", ""),
                sent_at=data.get("sent_at"),
                conversation_external_id=data.get("conversation_id", ""),
            ),
        )
        return Response(
            self.OutputSerializer(message).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ReplyOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    clinic = serializers.CharField(source="clinic.slug")
    kind = serializers.CharField()
    conversation_id = serializers.CharField(source="conversation.external_id")
    patient_mrn = serializers.CharField(source="conversation.patient.mrn")
    in_reply_to = serializers.CharField(
        source="in_reply_to.external_id", default=None, allow_null=True
    )
    language = serializers.CharField()
    body = serializers.CharField()
    author = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)

    def get_author(self, reply) -> str | None:
        if reply.author is None:
            return None  # the automatic reply
        return reply.author.get_full_name() or reply.author.get_username()


class OutboxPagination(CheckedCursorPagination):
    ordering = ("id",)
    page_size = 100
    max_page_size = 500
    page_size_query_param = "page_size"


class OutboxApi(APIView):
    """GET /api/v1/outgoing-messages?clinic=SLUG: replies the portal has not confirmed,
    oldest first (cursor pagination). Confirm each with POST .../ID/delivered; until then
    it stays here, so a reply is never lost between the two systems."""

    permission_classes = [IsAuthenticated, IsIntegration, TokenScope]
    required_scopes = {"GET": "outbox:read"}

    pagination_class = OutboxPagination

    @extend_schema(
        parameters=[OpenApiParameter("clinic", str, required=True, description="Clinic slug.")],
        responses=ReplyOutputSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        slug = request.query_params.get("clinic", "")
        if not slug:
            raise serializers.ValidationError({"clinic": ["Give the clinic's slug."]})
        clinic = integration_clinic(integration=integration_of(request.user), clinic_slug=slug)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(undelivered_replies(clinic=clinic), request, view=self)
        # DRF cut the page: the selector logs the patients of exactly these replies.
        replies_shown(
            user=request.user, replies=page, viewed_as=PatientDataAccess.What.PORTAL_REPLIES
        )
        return paginator.get_paginated_response(ReplyOutputSerializer(page, many=True).data)


class ReplyDeliveredApi(APIView):
    """POST /api/v1/outgoing-messages/ID/delivered: the portal has shown the reply to the
    patient. Repeating it is harmless and keeps the first time."""

    permission_classes = [IsAuthenticated, IsIntegration, TokenScope]
    required_scopes = {"POST": "outbox:write"}

    @extend_schema(request=None, responses=ReplyOutputSerializer)
    def post(self, request: Request, reply_id: int) -> Response:
        # Another clinic's reply: 404, nothing logged.
        reply = confirm_delivered(integration=integration_of(request.user), reply_id=reply_id)
        # The answer repeats the reply (text, MRN): handed over again, so logged again.
        replies_shown(
            user=request.user, replies=[reply], viewed_as=PatientDataAccess.What.PORTAL_REPLIES
        )
        return Response(ReplyOutputSerializer(reply).data)
