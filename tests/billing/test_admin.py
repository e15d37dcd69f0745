"""Admin pages that show a patient's name, MRN or claims file write the access log, like
the staff pages: one row per patient per request, only for what the page shows."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from billing import services
from billing.admin import PatientVisitAdmin
from billing.models import ClaimExport, EVisit, PatientVisit
from inbox.models import PatientDataAccess
from tests.accounts.factories import ClinicFactory, StaffFactory, UserFactory
from tests.inbox.factories import ConversationFactory, PatientFactory

pytestmark = pytest.mark.django_db

VISITS = "/admin/billing/patientvisit/"
EXPORTS = "/admin/billing/claimexport/"


@pytest.fixture
def admin_user():
    return UserFactory(is_staff=True, is_superuser=True)


def visit(patient, *, days_ago=30, kind=PatientVisit.Kind.EM) -> PatientVisit:
    on = (timezone.now() - datetime.timedelta(days=days_ago)).date()
    return PatientVisit.objects.create(patient=patient, on=on, kind=kind)


def logged():
    return sorted(PatientDataAccess.objects.values_list("user", "patient", "what", "object_id"))


def test_the_visit_list_writes_the_patients_on_the_page_shown(client, admin_user):
    clinic = ClinicFactory()
    twice, operated, other = (PatientFactory(clinic=clinic) for _ in range(3))
    visit(twice, days_ago=60)
    newest_of_twice = visit(twice, days_ago=10)
    procedure = visit(operated, kind=PatientVisit.Kind.PROCEDURE)
    visit(other)
    client.force_login(admin_user)

    response = client.get(VISITS, {"kind": "procedure"})

    assert response.status_code == 200
    assert operated.mrn in response.content.decode()
    assert logged() == [(admin_user.pk, operated.pk, "admin_visit_list", procedure.pk)]

    PatientDataAccess.objects.all().delete()

    assert client.get(VISITS, {"q": twice.mrn}).status_code == 200

    # Both visits are on the page: one row, the patient's first one shown (the newest).
    assert logged() == [(admin_user.pk, twice.pk, "admin_visit_list", newest_of_twice.pk)]


def test_the_visit_list_writes_only_the_current_page(client, admin_user, monkeypatch):
    monkeypatch.setattr(PatientVisitAdmin, "list_per_page", 2)
    first, second, third = (visit(PatientFactory()) for _ in range(3))
    client.force_login(admin_user)

    assert client.get(VISITS).status_code == 200  # newest first: third, second

    assert logged() == sorted(
        (admin_user.pk, v.patient_id, "admin_visit_list", v.pk) for v in (second, third)
    )

    PatientDataAccess.objects.all().delete()

    assert client.get(VISITS, {"p": 2}).status_code == 200

    assert logged() == [(admin_user.pk, first.patient_id, "admin_visit_list", first.pk)]


def test_logging_a_longer_visit_list_costs_no_more_queries(client, admin_user):
    client.force_login(admin_user)
    visit(PatientFactory())

    def queries_of_list_page() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(VISITS).status_code == 200
        return [q["sql"] for q in queries.captured_queries]

    one_row = queries_of_list_page()
    for _ in range(9):
        visit(PatientFactory())
    ten_rows = queries_of_list_page()

    assert len(ten_rows) == len(one_row)
    # The log reads the rows the page loaded (with their patients): no second SELECT.
    assert sum(sql.startswith('SELECT "billing_patientvisit"."id"') for sql in ten_rows) == 1
    assert PatientDataAccess.objects.filter(what="admin_visit_list").count() == 1 + 10


def test_opening_a_visit_is_logged_but_posting_it_is_not(client, admin_user):
    patient = PatientFactory()
    seen = visit(patient)
    page = f"{VISITS}{seen.pk}/change/"
    client.force_login(admin_user)

    response = client.get(page)

    assert response.status_code == 200
    assert patient.mrn in response.content.decode()
    access = PatientDataAccess.objects.get()
    assert (access.user, access.patient, access.clinic) == (admin_user, patient, patient.clinic)
    assert (access.what, access.object_id) == ("admin_visit", seen.pk)

    form = {"patient": patient.pk, "on": "not a date", "kind": "em", "global_period_days": 0}
    assert client.post(page, form).status_code == 200  # shown again with the error
    assert client.post(page, form | {"on": seen.on.isoformat()}).status_code == 302  # saved

    assert PatientDataAccess.objects.count() == 1


def exported(clinic, patients) -> ClaimExport:
    """A CSV claims file made by the clinic's billing staff, one e-visit per patient."""
    for patient in patients:
        EVisit.objects.create(
            clinic=clinic,
            conversation=ConversationFactory(patient=patient),
            status=EVisit.Status.APPROVED,
            code="99422",
            minutes=12,
            amount=Decimal("31.00"),
            window_start=timezone.now() - datetime.timedelta(days=1),
        )
    billing = StaffFactory(clinic=clinic, role=Role.BILLING)
    export = services.export_approved(actor=billing, export_format="csv")
    PatientDataAccess.objects.all().delete()  # the export's own log is not what is tested
    return export


def test_opening_a_claims_export_logs_every_patient_in_its_file(client, admin_user):
    clinic = ClinicFactory()
    in_file = [PatientFactory(clinic=clinic), PatientFactory(clinic=clinic)]
    export = exported(clinic, in_file)
    PatientFactory(clinic=clinic)  # not in the file
    client.force_login(admin_user)

    assert client.get(EXPORTS).status_code == 200  # counts and totals only: not logged
    assert logged() == []

    response = client.get(f"{EXPORTS}{export.pk}/change/")

    assert response.status_code == 200
    assert all(p.mrn in response.content.decode() for p in in_file)
    assert logged() == sorted(
        (admin_user.pk, p.pk, "admin_claims_export", export.pk) for p in in_file
    )


def test_a_refused_admin_request_writes_nothing(client, admin_user):
    clinic = ClinicFactory()
    patient = PatientFactory(clinic=clinic)
    export = exported(clinic, [patient])
    seen = visit(patient)
    pages = [VISITS, f"{VISITS}{seen.pk}/change/", f"{EXPORTS}{export.pk}/change/"]

    client.force_login(StaffFactory(clinic=clinic, role=Role.BILLING))  # not is_staff
    for url in pages:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    client.force_login(UserFactory(is_staff=True))  # staff without permission
    for url in pages:
        assert client.get(url).status_code == 403
    client.force_login(admin_user)
    for url in (f"{VISITS}{seen.pk + 1000}/change/", f"{EXPORTS}{export.pk + 1000}/change/"):
        assert client.get(url).status_code == 302  # no such object: back to the index

    assert logged() == []
