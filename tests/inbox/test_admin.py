"""The access log's own admin pages name patients, so reading them is logged too; a
refused admin request writes nothing."""

import pytest

from accounts.models import Role
from inbox.audit import record_patient_data_accesses
from inbox.models import PatientDataAccess
from tests.accounts.factories import ClinicFactory, StaffFactory, UserFactory
from tests.inbox.factories import PatientFactory

pytestmark = pytest.mark.django_db

LIST = "/admin/inbox/patientdataaccess/"


@pytest.fixture
def admin_user():
    return UserFactory(is_staff=True, is_superuser=True)


def opened(patient, *, by, object_id=1) -> PatientDataAccess:
    """A row of the access log: `by` opened a message thread of `patient`."""
    (row,) = record_patient_data_accesses(
        user=by, what="message_thread", shown=[(patient, object_id)]
    )
    return row


def logged_since(before: int):
    return sorted(
        PatientDataAccess.objects.filter(pk__gt=before).values_list(
            "user", "patient", "what", "object_id"
        )
    )


def test_the_access_log_list_writes_the_patients_on_the_page_shown(client, admin_user):
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    searched, other = PatientFactory(clinic=clinic), PatientFactory(clinic=clinic)
    opened(searched, by=nurse)
    latest = opened(searched, by=nurse, object_id=2)
    opened(other, by=nurse)
    before = PatientDataAccess.objects.latest("pk").pk
    client.force_login(admin_user)

    response = client.get(LIST, {"q": searched.mrn})

    assert response.status_code == 200
    assert searched.mrn in response.content.decode()
    # One row for the searched patient, pointing at their first entry on the page (the
    # newest); the other patient's entry was not on it.
    assert logged_since(before) == [
        (admin_user.pk, searched.pk, "admin_access_log_list", latest.pk)
    ]


def test_opening_an_access_log_entry_is_logged(client, admin_user):
    patient = PatientFactory()
    entry = opened(patient, by=StaffFactory(clinic=patient.clinic))
    client.force_login(admin_user)

    response = client.get(f"{LIST}{entry.pk}/change/")

    assert response.status_code == 200
    assert patient.mrn in response.content.decode()
    assert logged_since(entry.pk) == [
        (admin_user.pk, patient.pk, "admin_access_log_entry", entry.pk)
    ]
    access = PatientDataAccess.objects.latest("pk")
    assert access.clinic == patient.clinic


def test_a_refused_admin_request_writes_nothing(client, admin_user):
    patient = PatientFactory()
    entry = opened(patient, by=StaffFactory(clinic=patient.clinic))
    page = f"{LIST}{entry.pk}/change/"

    client.force_login(StaffFactory(clinic=patient.clinic, role=Role.ADMIN))  # not is_staff
    for url in (LIST, page):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    client.force_login(UserFactory(is_staff=True))  # staff without permission on the log
    assert client.get(LIST).status_code == 403
    assert client.get(page).status_code == 403
    client.force_login(admin_user)
    assert client.get(f"{LIST}{entry.pk + 1000}/change/").status_code == 302  # no such entry

    assert logged_since(entry.pk) == []


PATIENTS = "/admin/inbox/patient/"


def test_looking_a_patient_up_logs_the_patients_listed_and_the_one_opened(client, admin_user):
    clinic = ClinicFactory()
    searched, other = PatientFactory(clinic=clinic), PatientFactory(clinic=clinic)
    before = PatientDataAccess.objects.count()
    client.force_login(admin_user)

    listed = client.get(PATIENTS, {"q": searched.mrn, "_popup": "1", "_to_field": "id"})
    opened_page = client.get(f"{PATIENTS}{searched.pk}/change/")

    assert listed.status_code == opened_page.status_code == 200
    assert other.mrn not in listed.content.decode()
    assert sorted(
        PatientDataAccess.objects.order_by("pk")[before:].values_list(
            "user", "patient", "what", "object_id"
        )
    ) == [
        (admin_user.pk, searched.pk, "admin_patient", searched.pk),
        (admin_user.pk, searched.pk, "admin_patient_list", searched.pk),
    ]
