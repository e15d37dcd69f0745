"""Who may call which API: integrations (the portal, the EHR) and staff do different jobs,
and neither may do the other's (least privilege). Refusals say why, in plain words."""

from rest_framework.permissions import BasePermission

from accounts.models import ApiToken
from accounts.scopes import scope_for
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
        if not request.user.is_authenticated:
            return False
        # A few staff reads are also an EHR's job (e.g. FHIR Task); the view says so.
        return getattr(view, "allow_integrations", False) or integration_of(request.user) is None


class TokenScope(BasePermission):
    """A request made with an API token needs the scope the view names for its method
    (`required_scopes = {"GET": "work:read", "POST": "work:write"}`; HEAD and OPTIONS count
    as GET). A view that names none takes no token at all: fail closed, so a new endpoint
    is not open to every token by omission. A signed-in session needs no scope."""

    message = "This API token may not do this."

    def has_permission(self, request, view) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        required = getattr(view, "required_scopes", None)
        if not required:
            self.message = "This endpoint does not accept API tokens; sign in instead."
            return False
        scope = scope_for(required, request.method)
        if scope is None:
            # A method the view does not serve: let DRF answer 405, not a scope refusal.
            return not hasattr(view, request.method.lower())
        if scope in token.scopes:
            return True
        self.message = (
            f"This API token lacks the scope {scope!r}; ask the clinic's administrator "
            "for a token that has it."
        )
        return False
