"""accounts.lockout: when failures lock out, how usernames count, which address counts."""

from datetime import UTC, datetime, timedelta

import pytest

from accounts.lockout import Lockout, LockoutReason, client_ip, locked_until, normalise_username

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def minutes(*offsets: float) -> list[datetime]:
    """Failure times at these minutes after T0, newest first."""
    return sorted((T0 + timedelta(minutes=m) for m in offsets), reverse=True)


@pytest.mark.parametrize(
    ("failures", "now", "expected"),
    [
        (minutes(0, 1, 2, 3), 4, None),  # four are not five
        (minutes(0, 1, 2, 3, 4), 4, 19),  # locked for 15 minutes from the fifth
        (minutes(0, 1, 2, 3, 4), 18.9, 19),
        (minutes(0, 1, 2, 3, 4), 19, None),  # and no longer
        (minutes(0, 4, 8, 12, 15), 15, None),  # five spread over 15 minutes: not within
        (minutes(0, 4, 8, 12, 14.9), 15, 29.9),
    ],
)
def test_locked_until(failures, now, expected):
    ends_at = locked_until(failures, limit=5, minutes=15, now=T0 + timedelta(minutes=now))
    assert ends_at == (None if expected is None else T0 + timedelta(minutes=expected))


def test_a_limit_of_zero_turns_the_lock_off():
    assert locked_until(minutes(0, 1, 2), limit=0, minutes=15, now=T0) is None


@pytest.mark.parametrize(("left", "said"), [(15 * 60, 15), (14 * 60 + 1, 15), (30, 1), (0, 1)])
def test_minutes_left_are_rounded_up(left, said):
    lockout = Lockout(LockoutReason.USERNAME, ends_at=T0 + timedelta(seconds=left))
    assert lockout.minutes_left(T0) == said


# The last is a fullwidth "a" (NFKC makes it a plain one, as Django's login form does).
@pytest.mark.parametrize("typed", ["alice", "Alice", "ALICE", " alice ", "\uff41lice"])
def test_usernames_count_case_insensitively(typed):
    assert normalise_username(typed) == "alice"


@pytest.mark.parametrize(
    ("meta", "proxies", "expected"),
    [
        ({"REMOTE_ADDR": "203.0.113.7"}, 0, "203.0.113.7"),
        ({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "1.1.1.1"}, 0, "10.0.0.2"),
        (
            {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "1.1.1.1, 203.0.113.7"},
            1,
            "203.0.113.7",
        ),
        (
            {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.7, 10.0.0.9"},
            2,
            "203.0.113.7",
        ),
        ({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "junk, 203.0.113.7"}, 2, None),
        ({"REMOTE_ADDR": "2001:DB8::1"}, 0, "2001:db8::1"),
        ({}, 0, None),
    ],
)
def test_client_ip(meta, proxies, expected):
    assert client_ip(meta, proxy_count=proxies) == expected
