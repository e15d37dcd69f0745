"""Who may call which API: integrations (the portal, the EHR) and staff do different jobs,
and neither may do the other's (least privilege). Refusals say why, in plain words."""

from rest_framework.permissions import BasePermission

from accounts.selectors import integration_of


class IsIntegration(BasePermission):
    """Posting patients' messages, collecting replies and confirming their delivery are the
    portal's and the EHR's work, done with an integration token."""

    message = (
        "Only the clinic's portal or EHR, with its integration token, may do this; "
        "staff accounts and staff tokens cannot post patient messages or collect replies."
    )

    def has_permission(self, request, view) -> bool:
        return integration_of(request.user) is not None


class IsStaff(BasePermission):
    """Every other API: the work of clinic staff, never of an integration's token."""

    message = (
        "An integration token may only post patient messages and collect replies; "
        "working queues, replies and billing need a staff member's own sign-in or token."
    )

    def has_permission(self, request, view) -> bool:
        return request.user.is_authenticated and integration_of(request.user) is None
