from rest_framework import status

from config.errors import DomainError


class InvalidTransition(DomainError):
    """The item is not in a state that allows this action (someone else was faster)."""

    http_status = status.HTTP_409_CONFLICT
    code = "invalid_transition"


class InvalidTarget(DomainError):
    """A reassignment or reply that names no valid target or lacks what it needs."""

    http_status = status.HTTP_400_BAD_REQUEST
    code = "invalid_target"
