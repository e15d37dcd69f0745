"""Checks on what the portal sends about a patient, shared by the intake API and tests."""

import datetime
import re

from django.conf import global_settings
from django.core.exceptions import ValidationError
from django.utils import timezone

PHONE_MAX_CHARS = 40  # inbox.models.Patient.phone
_PHONE_CHARACTERS = re.compile(r"[0-9 +\-()]+")
# Fewer digits than this is no number anyone can call back ("+", "()", "1").
_PHONE_MIN_DIGITS = 3


def validate_phone(value: str) -> None:
    """A plausible phone number: digits, spaces, + - ( ), up to 40 characters. Nothing is
    normalised: staff dial what the portal sent (extensions and country codes included)."""
    if (
        len(value) > PHONE_MAX_CHARS
        or not _PHONE_CHARACTERS.fullmatch(value)
        or sum(c.isdigit() for c in value) < _PHONE_MIN_DIGITS
    ):
        raise ValidationError(
            "Enter a phone number: digits, spaces, + - ( ) only, up to 40 characters.",
            code="invalid_phone",
        )


# Nobody alive was born before 1900; year 1 or 9999 is a portal's placeholder or a typo,
# and an age computed from it would feed the red-flag rules.
BIRTH_DATE_MIN = datetime.date(1900, 1, 1)
# Patient portals date from the 2000s: an earlier time is a unit or epoch bug (0 -> 1970).
SENT_AT_MIN = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
# The portal's clock may run ahead of ours; a day covers any skew. Later is a wrong clock
# or a wrong field, and a message "sent" next year would sort above today's in the thread.
SENT_AT_MAX_AHEAD = datetime.timedelta(days=1)
# The patient's today may be ours plus up to 14 hours (UTC+14): a baby born "today" there.
_LATEST_UTC_OFFSET = datetime.timedelta(hours=14)


def validate_birth_date(value: datetime.date | None) -> None:
    if value is None:
        return
    latest = (timezone.now() + _LATEST_UTC_OFFSET).date()
    if not BIRTH_DATE_MIN <= value <= latest:
        raise ValidationError(
            "Give a birth date between 1900-01-01 and today.", code="birth_date_out_of_range"
        )


def validate_sent_at(value: datetime.datetime) -> None:
    if not SENT_AT_MIN <= value <= timezone.now() + SENT_AT_MAX_AHEAD:
        raise ValidationError(
            "Give the time the patient sent the message: after 2000 and not in the future.",
            code="sent_at_out_of_range",
        )


# Django's own list of language codes ("en", "es", "pt-br", "zh-hans", ...), and the
# languages of US patients with limited English that it lacks (interpreter-service lists):
# refusing a Tagalog or Haitian Creole speaker's message would leave it unanswered.
_KNOWN_LANGUAGES = {code for code, _ in global_settings.LANGUAGES} | {
    "am", "chk", "fil", "hmn", "ht", "lo", "mh", "om", "prs", "ps", "sm", "so", "ti", "tl",
    "to", "yue", "zh",
}  # fmt: skip
# language-REGION (BCP 47: two letters or three digits), e.g. "en-US" or "es-419".
_WITH_REGION = re.compile(r"([a-z]{2,3})-([a-z]{2}|[0-9]{3})")


def normalise_language(value: str) -> str:
    """The patient's language as a known code, lowercase: "ES" is "es", and a region
    Django's list does not name is dropped ("en-US" is "en"), since routing rules and
    auto-reply templates match the code exactly. Anything else is refused, not stored."""
    code = value.strip().lower()
    if code in _KNOWN_LANGUAGES:
        return code
    regional = _WITH_REGION.fullmatch(code)
    if regional and regional.group(1) in _KNOWN_LANGUAGES:
        return regional.group(1)
    raise ValidationError(
        "Give a known language code (BCP 47) such as en, es, es-MX, vi or zh-hans.",
        code="unknown_language",
    )
