from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils import timezone

from accounts.selectors import sign_in_lockout
from accounts.services import sign_in_address


class SignInLockoutBackend:
    """First in AUTHENTICATION_BACKENDS: refuses every password sign-in of a locked-out
    username or address, before any backend checks the password, so even the right
    password does not sign in (/login/, /admin/login/, and any DRF authentication that
    calls `authenticate()`). Django's `authenticate()` stops at PermissionDenied and fires
    `user_login_failed`; accounts.signals does not count such refused attempts.

    Deliberately no `get_user`: this backend never signs anyone in, so sessions never
    name it (and Django's test client `force_login` skips it). An existing session is
    not ended by a lockout."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, **credentials
    ) -> None:
        if username is None:
            return None
        lockout = sign_in_lockout(
            username=username, ip_address=sign_in_address(request), now=timezone.now()
        )
        if lockout is not None:
            raise PermissionDenied("sign-in locked out")
        return None
