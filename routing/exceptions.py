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


class PatientCallRefused(DomainError):
    """A call to the patient that is not recorded: a routine item, an unknown outcome or a
    time outside the last 24 hours."""

    http_status = status.HTTP_400_BAD_REQUEST
    code = "patient_call_refused"


class PatientCallNotPermitted(PatientCallRefused):
    """The person's role does not call patients back (clerical, billing, admin)."""

    http_status = status.HTTP_403_FORBIDDEN
    code = "patient_call_not_permitted"


class OutsideScopeOfPractice(DomainError):
    """The person's role may not take this action on this item (routing/scope.py): the
    detail says why in plain words and who must."""

    http_status = status.HTTP_403_FORBIDDEN
    code = "outside_scope_of_practice"


class WorkItemClosed(InvalidTransition):
    """The item is closed, so read-only: reopen it (a nurse or physician) to act on it."""

    code = "work_item_closed"


class AmbiguousConversation(DomainError):
    """Two of the person's clinics each have a conversation with this external id: the
    request names the clinic too."""

    code = "ambiguous_conversation"
