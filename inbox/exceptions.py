from rest_framework import status

from config.errors import DomainError


class ConversationBelongsToAnotherPatient(DomainError):
    http_status = status.HTTP_400_BAD_REQUEST
    code = "conversation_patient_mismatch"
