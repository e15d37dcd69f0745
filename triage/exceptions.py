from rest_framework import status

from config.errors import DomainError


class CorrectionRefused(DomainError):
    """The person may not review this correction: its author (a second person confirms
    it), or a role that reads no message threads."""

    http_status = status.HTTP_403_FORBIDDEN
    code = "correction_refused"


class CorrectionAlreadyReviewed(DomainError):
    """The correction was confirmed, accepted or rejected meanwhile."""

    http_status = status.HTTP_409_CONFLICT
    code = "correction_already_reviewed"
