"""The staff screens link to the Django admin for people who may administer there
(accounts/admin_link.py), and for no one else."""

import pytest

from accounts.models import Role
from tests.accounts.factories import ClinicFactory, MembershipFactory, StaffFactory

pytestmark = pytest.mark.django_db

LINK = "data-admin-link"


def header_of(client, user) -> str:
    client.force_login(user)
    response = client.get("/work/", follow=True)
    return response.content.decode()


@pytest.fixture
def clinic():
    return ClinicFactory()


def test_a_clinic_administrator_with_admin_access_gets_the_link(client, clinic):
    user = StaffFactory(clinic=clinic, role=Role.NURSE, is_staff=True)
    MembershipFactory(user=user, clinic=ClinicFactory(), role=Role.ADMIN)
    page = header_of(client, user)
    assert LINK in page
    assert 'href="/admin/"' in page


def test_a_nurse_gets_no_link(client, clinic):
    assert LINK not in header_of(client, StaffFactory(clinic=clinic, role=Role.NURSE))


def test_staff_status_without_a_clinic_to_administer_gets_no_link(client, clinic):
    user = StaffFactory(clinic=clinic, role=Role.NURSE, is_staff=True)
    assert LINK not in header_of(client, user)


def test_a_clinic_administrator_the_admin_would_not_let_in_gets_no_link(client, clinic):
    user = StaffFactory(clinic=clinic, role=Role.NURSE, is_staff=False)
    MembershipFactory(user=user, clinic=ClinicFactory(), role=Role.ADMIN)
    assert LINK not in header_of(client, user)


def test_a_superuser_gets_the_link(client, clinic):
    user = StaffFactory(clinic=clinic, role=Role.NURSE, is_staff=True, is_superuser=True)
    assert LINK in header_of(client, user)
