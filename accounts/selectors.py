from datetime import datetime

from django.conf import settings
from django.db.models import QuerySet

from accounts.lockout import Lockout, LockoutReason, locked_until, normalise_username
from accounts.models import Clinic, FailedSignIn, Integration, Membership, Role, User


def clinics_for_user(*, user: User, role: Role | None = None) -> QuerySet[Clinic]:
    """The clinics whose patients this user may see: the root of every scoped query.
    With `role`, only the clinics where the user has that role (Role.ADMIN: the clinics
    whose rows the user may see and change in the Django admin)."""
    if not user.is_authenticated:
        return Clinic.objects.none()
    memberships = Membership.objects.filter(user=user)
    if role is not None:
        memberships = memberships.filter(role=role)
    return Clinic.objects.filter(pk__in=memberships.values("clinic_id"))


CURRENT_CLINIC_SESSION_KEY = "clinic_id"


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("clinic").order_by("clinic__name")


def current_membership(*, user: User, session) -> Membership | None:
    """The clinic the person is working in now: the one picked in the clinic switcher,
    else their first clinic by name."""
    memberships = list(memberships_for_user(user=user))
    chosen = session.get(CURRENT_CLINIC_SESSION_KEY)
    for membership in memberships:
        if membership.clinic_id == chosen:
            return membership
    return memberships[0] if memberships else None


def sign_in_lockout(*, username: str, ip_address: str | None, now: datetime) -> Lockout | None:
    """Whether a password sign-in as `username` from `ip_address` is refused now: the
    username's own failures first (LOGIN_LOCKOUT_FAILURES), then the address's failures
    over any usernames (LOGIN_LOCKOUT_IP_FAILURES, looser), both within
    LOGIN_LOCKOUT_MINUTES. The same answer for a username that exists as for one that
    does not."""
    minutes = settings.LOGIN_LOCKOUT_MINUTES
    checks = [
        (
            LockoutReason.USERNAME,
            {"username": normalise_username(username)},
            settings.LOGIN_LOCKOUT_FAILURES,
        ),
    ]
    if ip_address:
        checks.append(
            (LockoutReason.ADDRESS, {"ip_address": ip_address}, settings.LOGIN_LOCKOUT_IP_FAILURES)
        )
    for reason, where, limit in checks:
        if limit <= 0:
            continue
        latest = list(
            FailedSignIn.objects.filter(**where)
            .order_by("-attempted_at")
            .values_list("attempted_at", flat=True)[:limit]
        )
        ends_at = locked_until(latest, limit=limit, minutes=minutes, now=now)
        if ends_at is not None:
            return Lockout(reason=reason, ends_at=ends_at)
    return None


def integration_of(user) -> Integration | None:
    """The integration acting as `user` (its account), or None for a person."""
    if not user.is_authenticated:
        return None
    # The reverse one-to-one is cached on the user, a miss included: one query a request.
    return getattr(user, "integration", None)
