"""Pure: when repeated failed sign-ins lock a username (or an address) out. No ORM."""

import ipaddress
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class LockoutReason(StrEnum):
    USERNAME = "username"
    ADDRESS = "address"


@dataclass(frozen=True)
class Lockout:
    reason: LockoutReason
    ends_at: datetime

    def minutes_left(self, now: datetime) -> int:
        """Whole minutes, rounded up, so "1 minute" is the least a message says."""
        seconds = max((self.ends_at - now).total_seconds(), 0)
        return max(int(-(-seconds // 60)), 1)


def normalise_username(username: str) -> str:
    """How a typed username is counted: "Alice", " alice" and "ALICE" are one username,
    whether or not such a user exists. The same normalisation as Django's login form
    (NFKC), then case-folded; cut to the column's length."""
    return unicodedata.normalize("NFKC", username).strip().casefold()[:150]


def locked_until(
    latest_failures: Sequence[datetime], *, limit: int, minutes: int, now: datetime
) -> datetime | None:
    """`latest_failures`: the newest `limit` failure times (newest first) of one username
    or address. `limit` failures within `minutes` lock it for `minutes` from the last of
    them; None when not locked now. A `limit` of 0 turns the lock off.

    Attempts refused by a lock are not recorded (accounts.services.record_failed_sign_in),
    so the lock ends when it says it does: guessing on during a lock does not extend it,
    and it cannot be held forever by someone who keeps trying a colleague's username."""
    if limit <= 0 or len(latest_failures) < limit:
        return None
    newest, oldest = latest_failures[0], latest_failures[limit - 1]
    window = timedelta(minutes=minutes)
    if newest - oldest >= window:
        return None
    ends_at = newest + window
    return ends_at if ends_at > now else None


def client_ip(meta: Mapping[str, str], *, proxy_count: int) -> str | None:
    """The address a sign-in came from, for the per-address limit. With no proxy in front
    (`proxy_count` 0) it is REMOTE_ADDR. Behind `proxy_count` proxies or load balancers,
    each appending to X-Forwarded-For, it is the entry the outermost one added (counted
    from the right): entries further left are whatever the client sent, and trusting them
    would let anyone pick the address their failures are counted against. None when no
    valid address is found."""
    candidate = meta.get("REMOTE_ADDR", "")
    if proxy_count > 0:
        forwarded = [part.strip() for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= proxy_count:
            candidate = forwarded[-proxy_count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None
