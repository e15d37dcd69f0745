"""API authentication: the bearer tokens of accounts.ApiToken (staff members' and
integrations'), sent as `Authorization: Bearer <token>` or `Authorization: Token <token>`."""

from django.utils import timezone
from rest_framework import authentication, exceptions

from accounts import services
from accounts.models import ApiToken

_KEYWORDS = (b"bearer", b"token")


class ApiTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() not in _KEYWORDS:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Give one token after the word Bearer.")
        try:
            token = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("That is not a valid token.") from None
        row = (
            # An integration's clinic comes with its token: every intake call needs it.
            ApiToken.objects.select_related("user__integration__clinic")
            .filter(digest=services.api_token_digest(token), revoked_at__isnull=True)
            .first()
        )
        # One message for unknown, revoked and disabled: a guess learns nothing.
        if row is None or not row.user.is_active:
            raise exceptions.AuthenticationFailed("The token is not valid or was revoked.")
        services.record_token_use(token=row, now=timezone.now())
        return row.user, row

    def authenticate_header(self, request) -> str:
        return "Bearer"
