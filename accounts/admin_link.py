"""Whether the staff screens offer a link to the Django admin: only to someone the admin
lets in (`is_staff`, active) who has something to administer there (a superuser, or an
administrator of a clinic: ClinicScopedAdmin shows them their clinics' rows). Anyone
else would meet a login page that refuses them, or an admin with no headings."""

from accounts.models import Membership, Role, User


def may_administer(*, user: User) -> bool:
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    return user.is_superuser or Membership.objects.filter(user=user, role=Role.ADMIN).exists()
