"""POST /fhir/Communication: a patient's message as a FHIR R4 Communication, from the
clinic's portal or EHR (an integration token with fhir:write). GET of one is in
routing.api.fhir (who may read it is routing's scope of practice)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import IsIntegration, TokenScope
from accounts.selectors import integration_of
from config.fhir import FhirApiView, FhirUnprocessable, operation_outcome, validate_resource
from inbox.fhir import incoming_from_communication
from inbox.services import receive_message_for_known_patient
from inbox.validators import validate_sent_at


class CommunicationCreateApi(FhirApiView):
    """201 with Location when stored, 200 with the stored one's Location when its
    identifier was posted before (a retry). The body is an OperationOutcome saying which
    (no patient data: read the resource at Location). Not FHIR: 400; FHIR we cannot store
    (no subject, unknown patient, no text, no identifier): 422."""

    permission_classes = [IsAuthenticated, IsIntegration, TokenScope]
    required_scopes = {"POST": "fhir:write"}

    def post(self, request: Request) -> Response:
        resource = validate_resource(request.data, expected_type="Communication")
        posted = incoming_from_communication(
            resource, body_max_chars=settings.MESSAGE_BODY_MAX_CHARS
        )
        if posted.incoming.sent_at is not None:
            try:
                validate_sent_at(posted.incoming.sent_at)
            except ValidationError as exc:
                raise FhirUnprocessable(
                    " ".join(exc.messages), expression="Communication.sent"
                ) from None
        integration = integration_of(request.user)
        message, created = receive_message_for_known_patient(
            clinic=integration.clinic, incoming=posted.incoming, source=integration
        )
        location = f"/fhir/Communication/{message.pk}"
        said = "Stored as" if created else "Already received (same identifier) as"
        return Response(
            operation_outcome("informational", f"{said} {location}.", severity="information"),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
            headers={"Location": request.build_absolute_uri(location)},
        )
