from django.db.models import QuerySet

from accounts.models import Clinic, Membership, Role, User


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
