"""Django's sign-in signals, wired to the lockout services (connected in AccountsConfig).

Signals because `user_login_failed` is the one place every password path (/login/,
/admin/login/, `authenticate()` anywhere) reports a failure; the receivers only call
services."""

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from accounts import services


@receiver(user_login_failed, dispatch_uid="accounts.record_failed_sign_in")
def record_failed_sign_in(sender, credentials: dict, request=None, **kwargs) -> None:
    # `credentials` has the password already masked by Django; only the username is read.
    username = credentials.get("username")
    if not isinstance(username, str) or not username:
        return
    services.record_failed_sign_in(username=username, ip_address=services.sign_in_address(request))


@receiver(user_logged_in, dispatch_uid="accounts.clear_failed_sign_ins")
def clear_failed_sign_ins(sender, user, request=None, **kwargs) -> None:
    services.clear_failed_sign_ins(username=user.get_username())
