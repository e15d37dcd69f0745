from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.lockout import Lockout, LockoutReason
from accounts.selectors import sign_in_lockout
from accounts.services import sign_in_address


def lockout_message(lockout: Lockout, *, now) -> str:
    """The same words whether or not the username belongs to anyone."""
    minutes = lockout.minutes_left(now)
    wait = f"Try again in {minutes} minute{'s' if minutes != 1 else ''}"
    if lockout.reason == LockoutReason.USERNAME:
        return (
            f"Too many failed sign-ins for this username. {wait}, "
            "or ask an administrator to unlock it."
        )
    return (
        f"Too many failed sign-ins from this network address. {wait}, "
        "or ask an administrator to unlock it."
    )


class LockoutMessageMixin:
    """After a refused sign-in, says so when the username (or address) is locked out, the
    failure that started the lock included, instead of "wrong password". The refusal
    itself is accounts.backends.SignInLockoutBackend's, on every sign-in path."""

    lockout_message: str | None = None

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            username = self.cleaned_data.get("username")
            now = timezone.now()
            lockout = (
                sign_in_lockout(
                    username=username, ip_address=sign_in_address(self.request), now=now
                )
                if username
                else None
            )
            if lockout is None:
                raise
            self.lockout_message = lockout_message(lockout, now=now)
            raise ValidationError(self.lockout_message, code="locked_out") from None


class SignInForm(LockoutMessageMixin, AuthenticationForm):
    """/login/ (templates/registration/login.html)."""


class AdminSignInForm(LockoutMessageMixin, AdminAuthenticationForm):
    """/admin/login/ (set as admin.site.login_form in accounts/admin.py)."""
