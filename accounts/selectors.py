from django.db.models import QuerySet

from accounts.models import Clinic, User


def clinics_for_user(*, user: User) -> QuerySet[Clinic]:
    """The clinics whose patients this user may see: the root of every scoped query."""
    if not user.is_authenticated:
        return Clinic.objects.none()
    return Clinic.objects.filter(memberships__user=user).distinct()
