from rest_framework import status

from config.errors import DomainError


class ConversationBelongsToAnotherPatient(DomainError):
    http_status = status.HTTP_400_BAD_REQUEST
    code = "conversation_patient_mismatch"


class UnknownPatient(DomainError):
    # 422: the request is well formed; the clinic just has no such patient.
    http_status = status.HTTP_422_UNPROCESSABLE_ENTITY
    code = "unknown_patient"
