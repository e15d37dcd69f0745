from django.http import Http404

from accounts.models import Clinic, User
from accounts.selectors import clinics_for_user


def access_clinic(*, user: User, clinic_slug: str) -> Clinic:
    """The clinic if the user is a member; otherwise 404, never confirming it exists."""
    clinic = clinics_for_user(user=user).filter(slug=clinic_slug).first()
    if clinic is None:
        raise Http404("clinic not found")
    return clinic
