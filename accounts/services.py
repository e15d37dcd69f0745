import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from accounts.lockout import LockoutReason, client_ip, normalise_username
from accounts.models import FailedSignIn, User
from accounts.selectors import sign_in_lockout

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
