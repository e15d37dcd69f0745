import hashlib
import logging
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from django.utils.text import slugify

from accounts.lockout import LockoutReason, client_ip, normalise_username
from accounts.models import ApiToken, Clinic, FailedSignIn, Integration, User
from accounts.scopes import INTEGRATION_DEFAULT_SCOPES, STAFF_DEFAULT_SCOPES, validate_scopes
from accounts.selectors import integration_of, sign_in_lockout

logger = logging.getLogger(__name__)

# Failures are only ever counted over the last LOGIN_LOCKOUT_MINUTES (and a lock lasts as
# long again), so older rows are of no use; a day keeps them for a look in the admin.
FAILED_SIGN_IN_RETENTION = timedelta(days=1)


def sign_in_address(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return client_ip(request.META, proxy_count=settings.LOGIN_LOCKOUT_PROXY_COUNT)


def record_failed_sign_in(
    *, username: str, ip_address: str | None, now: datetime | None = None
) -> FailedSignIn | None:
    """Count one refused password sign-in against the username (and the address); log a
    warning when this failure starts a lockout. Returns the new row, or None when the
    attempt was itself refused by a lock: such attempts are not counted (no password was
    checked), so a lock ends LOGIN_LOCKOUT_MINUTES after the failure that started it
    however often someone keeps trying."""
    now = now or timezone.now()
    # Pruned here rather than by a beat task: a cheap indexed delete, and the table only
    # grows when failures are recorded.
    retention = max(FAILED_SIGN_IN_RETENTION, timedelta(minutes=2 * settings.LOGIN_LOCKOUT_MINUTES))
    FailedSignIn.objects.filter(attempted_at__lt=now - retention).delete()

    if sign_in_lockout(username=username, ip_address=ip_address, now=now) is not None:
        return None
    failure = FailedSignIn.objects.create(
        username=normalise_username(username), ip_address=ip_address, attempted_at=now
    )
    lockout = sign_in_lockout(username=username, ip_address=ip_address, now=now)
    if lockout is not None:
        # Username and address only: never the password, nothing about patients. %r keeps
        # a typed newline from forging a log line.
        if lockout.reason == LockoutReason.USERNAME:
            logger.warning(
                "Sign-in lockout started for username %r (last failure from %s) until %s",
                failure.username,
                ip_address or "an unknown address",
                lockout.ends_at.isoformat(timespec="seconds"),
            )
        else:
            logger.warning(
                "Sign-in lockout started for address %s (last failure as username %r) until %s",
                ip_address,
                failure.username,
                lockout.ends_at.isoformat(timespec="seconds"),
            )
    return failure


def clear_failed_sign_ins(*, username: str) -> int:
    """After a successful sign-in: the username starts counting from zero. The address's
    count keeps the other usernames' failures (one good account must not reset the
    per-address limit for guesses at others). Returns how many failures were deleted."""
    deleted, _ = FailedSignIn.objects.filter(username=normalise_username(username)).delete()
    return deleted


def unlock_usernames(*, usernames: Iterable[str]) -> int:
    """An administrator's unlock: forget these usernames' failures. Returns how many."""
    keys = {normalise_username(username) for username in usernames}
    deleted, _ = FailedSignIn.objects.filter(username__in=keys).delete()
    return deleted


def unlock_addresses(*, ip_addresses: Iterable[str]) -> int:
    """An administrator's unlock of an address (e.g. a clinic's shared one): forget the
    failures from it. Returns how many."""
    deleted, _ = FailedSignIn.objects.filter(ip_address__in=set(ip_addresses)).delete()
    return deleted


def set_emergent_arrival_alert(*, user: User, on: bool) -> None:
    """A person's own opt-in to the sound and browser notification when an emergent item
    lands in the queue page they have open (static/js/live.js)."""
    user.emergent_arrival_alert = on
    user.save(update_fields=["emergent_arrival_alert"])


def set_after_action(*, user: User, after_action: str) -> None:
    """Where a person's screen goes after closing, replying to or reassigning an item:
    the next item of the queue, or stay on the item."""
    if after_action not in User.AfterAction.values:
        raise ValueError(f"unknown after_action {after_action!r}")
    user.after_action = after_action
    user.save(update_fields=["after_action"])


# --- integrations and API tokens ------------------------------------------------------

API_TOKEN_PREFIX = "pt_"  # noqa: S105 (a marker, not a secret)


def api_token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_api_token_secret() -> tuple[str, str, str]:
    """A new token: (the token, its display prefix, its digest). Only the last two are
    stored; the token is shown once."""
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token[:10], api_token_digest(token)


def default_token_scopes(*, user: User) -> list[str]:
    """The scopes a new token of `user` is offered: an integration's usual job (post
    messages, collect and confirm replies), or a staff member's (work the queues)."""
    defaults = (
        INTEGRATION_DEFAULT_SCOPES if integration_of(user) is not None else STAFF_DEFAULT_SCOPES
    )
    return [str(scope) for scope in defaults]


def issue_api_token(
    *,
    user: User,
    name: str = "",
    created_by: User | None,
    scopes: Iterable[str] | None = None,
) -> tuple[ApiToken, str]:
    """A new token for `user` (a staff member or an integration's account) that may do
    `scopes` (accounts.scopes.Scope names; None: default_token_scopes). Returns the row
    and the token itself, which is stored nowhere: show it once."""
    scopes = default_token_scopes(user=user) if scopes is None else scopes
    token, prefix, digest = new_api_token_secret()
    row = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=prefix,
        digest=digest,
        created_by=created_by,
        scopes=validate_scopes(scopes),
    )
    return row, token


def revoke_api_tokens(*, tokens: Iterable[ApiToken], now: datetime | None = None) -> int:
    now = now or timezone.now()
    ids = [token.pk for token in tokens]
    return ApiToken.objects.filter(pk__in=ids, revoked_at__isnull=True).update(revoked_at=now)


# A token used within this long is not written again: one UPDATE per request would cost
# the API's throughput for a "last used" column nobody reads to the second.
TOKEN_USE_RECORDED_EVERY = timedelta(minutes=5)


def record_token_use(*, token: ApiToken, now: datetime | None = None) -> None:
    now = now or timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= TOKEN_USE_RECORDED_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


def create_integration(
    *, clinic: Clinic, name: str, demographics_source: bool = False
) -> Integration:
    return Integration.objects.create(
        clinic=clinic,
        name=name,
        account=new_integration_account(clinic=clinic, name=name),
        demographics_source=demographics_source,
    )


def new_integration_account(*, clinic: Clinic, name: str) -> User:
    """An integration's account: active, with no usable password and no membership, so it
    signs in nowhere and sees no queue; it acts only through its tokens."""
    account = User(username=_integration_username(clinic=clinic, name=name), is_active=True)
    account.set_unusable_password()
    account.save()
    return account


def _integration_username(*, clinic: Clinic, name: str) -> str:
    base = f"integration.{clinic.slug}.{slugify(name) or 'system'}"[:140]
    username, n = base, 1
    while User.objects.filter(username=username).exists():
        n += 1
        username = f"{base}.{n}"
    return username
