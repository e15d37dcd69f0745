"""Checks on what the portal sends about a patient, shared by the intake API and tests."""

import re

from django.core.exceptions import ValidationError

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
