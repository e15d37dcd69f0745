"""What an API token may do. A token carries a list of these names (ApiToken.scopes); every
API and FHIR view says which one each HTTP method needs (`required_scopes`), and
accounts.permissions.TokenScope refuses a token without it. A signed-in session (the
staff screens calling the API) needs no scope: its person's role already limits it."""

from django.db import models


class Scope(models.TextChoices):
    MESSAGES_WRITE = "messages:write", "messages:write: post patients' messages"
    MESSAGES_READ = "messages:read", "messages:read: read messages and conversations"
    OUTBOX_READ = "outbox:read", "outbox:read: collect replies waiting for the portal"
    OUTBOX_WRITE = "outbox:write", "outbox:write: confirm a reply was delivered"
    WORK_READ = "work:read", "work:read: list and read work items"
    WORK_WRITE = "work:write", "work:write: claim, reply to, reassign and close work items"
    TIME_WRITE = "time:write", "time:write: record clinician time on a work item"
    BILLING_READ = "billing:read", "billing:read: read e-visits (billing role)"
    ADMIN_READ = "admin:read", "admin:read: read queues, rules and operations figures"
    FHIR_WRITE = "fhir:write", "fhir:write: post FHIR Communications"
    FHIR_READ = "fhir:read", "fhir:read: read FHIR Communications and Tasks"


ALL_SCOPES = frozenset(Scope.values)

# What a new token is offered ticked in the admin: the usual job of each kind of principal.
# Anything more is a deliberate choice of whoever issues it.
INTEGRATION_DEFAULT_SCOPES = (Scope.MESSAGES_WRITE, Scope.OUTBOX_READ, Scope.OUTBOX_WRITE)
STAFF_DEFAULT_SCOPES = (Scope.WORK_READ, Scope.WORK_WRITE)

# HEAD and OPTIONS read nothing more than GET does.
_METHOD_ALIASES = {"HEAD": "GET", "OPTIONS": "GET"}


def scope_for(required_scopes: dict[str, str], method: str) -> str | None:
    """The scope a view asks for this method, or None when it declares none."""
    method = method.upper()
    return required_scopes.get(method) or required_scopes.get(_METHOD_ALIASES.get(method, ""))


def validate_scopes(scopes) -> list[str]:
    """A token's scopes as stored: known names only, each once, in a stable order."""
    unknown = sorted(set(scopes) - ALL_SCOPES)
    if unknown:
        raise ValueError(f"unknown token scope(s): {', '.join(unknown)}")
    return sorted(set(scopes))
