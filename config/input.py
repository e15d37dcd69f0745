"""Reading untrusted values from a request before they reach int() or the database.

str.isdigit() is true for "²" and "٣", and int() then raises or reads a digit nobody
typed; PostgreSQL refuses a NUL byte in any text with a DataError. Both were server
errors from a fuzzing run, so ids are read here as ASCII digits only, and strings are
checked for NUL before a query sees them.
"""

from collections.abc import Iterable

# A primary key is a PostgreSQL bigint: at most 19 digits and below 2**63.
ID_MAX_DIGITS = 19
ID_MAX = 2**63 - 1
_ASCII_DIGITS = frozenset("0123456789")


def parse_id(value: object) -> int | None:
    """A positive id written in ASCII digits, or None for anything else (absent, empty,
    signs, spaces, non-ASCII digits, more digits than a bigint holds)."""
    if not isinstance(value, str) or not 0 < len(value) <= ID_MAX_DIGITS:
        return None
    if not _ASCII_DIGITS.issuperset(value):
        return None
    number = int(value)
    return number if 0 < number <= ID_MAX else None


def parse_count(value: object, *, maximum: int) -> int | None:
    """A whole number from 0 to `maximum` in ASCII digits (minutes, rows shown), or None."""
    if not isinstance(value, str) or not 0 < len(value) <= len(str(maximum)):
        return None
    if not _ASCII_DIGITS.issuperset(value):
        return None
    number = int(value)
    return number if number <= maximum else None


def has_nul(values: Iterable[str]) -> bool:
    """True when any of the strings holds a NUL byte (which PostgreSQL cannot store)."""
    return any("\x00" in value for value in values)
