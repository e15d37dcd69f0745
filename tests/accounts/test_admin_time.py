"""The admin in clinic time (accounts/admin_time.py): an on-call shift typed in a
Pasadena clinic's admin is Pasadena time, stored in UTC, shown back in Pasadena time, and
the zone is named beside the field, the column and in the header."""

import datetime

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import CLINIC_ADMINISTRATORS_GROUP, Role
from routing.models import OnCallShift
from tests.accounts.factories import (
    ClinicFactory,
    MembershipFactory,
    StaffFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SHIFTS = "/admin/routing/oncallshift/"
UTC = datetime.UTC


@pytest.fixture
def pasadena():
    return ClinicFactory(name="Oncology - Pasadena", time_zone="America/Los_Angeles")


@pytest.fixture
def boston():
    return ClinicFactory(name="Oncology - Boston", time_zone="America/New_York")


def administrator_of(clinic):
    user = StaffFactory(clinic=clinic, role=Role.ADMIN, is_staff=True)
    user.groups.add(Group.objects.get(name=CLINIC_ADMINISTRATORS_GROUP))
    return user


def shift_form(clinic, clinician, day="2026-01-15", starts="08:00", ends="17:00") -> dict:
    return {
        "clinic": clinic.pk,
        "clinician": clinician.pk,
        "starts_at_0": day,
        "starts_at_1": starts,
        "ends_at_0": day,
        "ends_at_1": ends,
    }


def test_a_shift_typed_as_8_in_pasadena_is_stored_as_16_utc_in_winter(client, pasadena):
    admin = administrator_of(pasadena)
    nurse = StaffFactory(clinic=pasadena, role=Role.NURSE)
    client.force_login(admin)

    response = client.post(f"{SHIFTS}add/", shift_form(pasadena, nurse))

    assert response.status_code == 302, response.content.decode()[:3000]
    shift = OnCallShift.objects.get()
    assert shift.starts_at == datetime.datetime(2026, 1, 15, 16, 0, tzinfo=UTC)
    assert shift.ends_at == datetime.datetime(2026, 1, 16, 1, 0, tzinfo=UTC)


def test_the_shift_is_shown_back_as_8_with_the_zone_named(client, pasadena):
    admin = administrator_of(pasadena)
    shift = OnCallShift.objects.create(
        clinic=pasadena,
        clinician=StaffFactory(clinic=pasadena),
        starts_at=datetime.datetime(2026, 1, 15, 16, 0, tzinfo=UTC),
        ends_at=datetime.datetime(2026, 1, 16, 1, 0, tzinfo=UTC),
    )
    client.force_login(admin)

    page = client.get(f"{SHIFTS}{shift.pk}/change/").content.decode()

    assert 'value="08:00:00"' in page
    assert 'value="17:00:00"' in page
    assert "Starts at (America/Los_Angeles)" in page
    assert "Ends at (America/Los_Angeles)" in page
    assert "Times in America/Los_Angeles" in page


def test_the_list_heads_its_time_columns_with_the_zone_and_shows_clinic_time(client, pasadena):
    admin = administrator_of(pasadena)
    OnCallShift.objects.create(
        clinic=pasadena,
        clinician=StaffFactory(clinic=pasadena),
        starts_at=datetime.datetime(2026, 7, 1, 15, 0, tzinfo=UTC),  # summer: 08:00 PDT
        ends_at=datetime.datetime(2026, 7, 2, 0, 0, tzinfo=UTC),
    )
    client.force_login(admin)

    page = client.get(SHIFTS).content.decode()

    assert "Starts at (America/Los_Angeles)" in page
    assert "8 a.m." in page or "08:00" in page
    assert "3 p.m." not in page
    assert "15:00" not in page


def test_an_object_is_shown_in_its_own_clinics_zone(client, pasadena, boston):
    """A superuser working in Pasadena edits a Boston shift: Boston time, named."""
    root = UserFactory(is_staff=True, is_superuser=True)
    MembershipFactory(user=root, clinic=pasadena, role=Role.ADMIN)
    shift = OnCallShift.objects.create(
        clinic=boston,
        clinician=StaffFactory(clinic=boston),
        starts_at=datetime.datetime(2026, 1, 15, 13, 0, tzinfo=UTC),
        ends_at=datetime.datetime(2026, 1, 15, 22, 0, tzinfo=UTC),
    )
    client.force_login(root)

    page = client.get(f"{SHIFTS}{shift.pk}/change/").content.decode()

    assert "Starts at (America/New_York)" in page
    assert 'value="08:00:00"' in page


def test_an_add_form_takes_the_time_in_the_chosen_clinics_zone(client, pasadena, boston):
    root = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(root)

    response = client.post(
        f"{SHIFTS}add/", shift_form(boston, StaffFactory(clinic=boston), starts="08:00")
    )

    assert response.status_code == 302
    assert OnCallShift.objects.get().starts_at == datetime.datetime(2026, 1, 15, 13, 0, tzinfo=UTC)


def test_the_zone_is_not_left_active_after_an_admin_page(client, pasadena):
    client.force_login(administrator_of(pasadena))
    client.get(SHIFTS)
    assert timezone.get_current_timezone_name() == "UTC"
