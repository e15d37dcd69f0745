"""GET /operations/, /operations/export.csv and /api/v1/operations: clinic administrators
and managers, per clinic they may see; 404 to other staff; no patient on any of them."""

import csv
import io

import pytest
from django.test import Client

from accounts.models import Role
from inbox.models import PatientDataAccess
from routing import work_items
from tests.accounts.factories import (
    ClinicFactory,
    IntegrationFactory,
    MembershipFactory,
    StaffFactory,
)
from tests.routing.test_work_items_scope import make_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic():
    clinic = ClinicFactory(name="Ops Clinic")
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    # One answered urgent item and one waiting: real figures behind the page.
    answered = make_item(clinic, level="nurse", acuity="urgent")
    work_items.respond(actor=nurse, item_id=answered.pk, body="Rest and fluids.")
    make_item(clinic, level="nurse", acuity="routine")
    return clinic


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def manager_of(clinic):
    manager = StaffFactory(clinic=clinic, role=Role.NURSE)
    manager.memberships.update(is_manager=True)
    return manager


def test_a_manager_sees_the_chart_and_the_figures(clinic):
    before = PatientDataAccess.objects.count()

    response = signed_in(manager_of(clinic)).get("/operations/")

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="operations-chart"' in page
    assert 'id="operations-data"' in page  # the chart's series, as JSON (not executed)
    assert "js/operations.js" in page
    assert "1 waiting for an answer" in page
    assert response.context["figures"]["who_answered"]["answered"] == 1
    # Aggregates only: no patient, so nothing is written to the access log.
    assert "Rest and fluids" not in page
    assert PatientDataAccess.objects.count() == before


def test_an_administrator_sees_it_and_a_nurse_gets_404(clinic):
    administrator = StaffFactory(clinic=clinic, role=Role.ADMIN)
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    billing = StaffFactory(clinic=clinic, role=Role.BILLING)

    assert signed_in(administrator).get("/operations/").status_code == 200
    assert signed_in(nurse).get("/operations/").status_code == 404
    assert signed_in(billing).get("/operations/export.csv").status_code == 404
    assert Client().get("/operations/").status_code == 302  # to sign in


def test_only_the_clinics_one_manages(clinic):
    other = ClinicFactory(name="Other Clinic")
    manager = manager_of(clinic)
    MembershipFactory(user=manager, clinic=other, role=Role.NURSE)  # not its manager
    two = manager_of(other)
    MembershipFactory(user=two, clinic=clinic, role=Role.ADMIN)
    client = signed_in(manager)

    assert client.get(f"/operations/?clinic={other.slug}").status_code == 404
    assert client.get("/operations/?clinic=no-such-clinic").status_code == 404
    page = signed_in(two).get(f"/operations/?clinic={clinic.slug}")
    assert page.status_code == 200
    assert page.context["clinic"] == clinic
    assert 'id="operations-clinic"' in page.content.decode()  # the picker: two clinics


def test_the_csv_has_one_section_per_figure(clinic):
    response = signed_in(manager_of(clinic)).get(f"/operations/export.csv?clinic={clinic.slug}")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    sections = [r[0] for r, before in zip(rows[1:], rows, strict=False) if before == [] and r]
    assert sections == [
        "response_times_by_acuity",
        "response_times_by_week",
        "response_times_by_queue",
        "response_times_by_role",
        "median_first_response_h_by_week_and_acuity",
        "backlog_now",
        "who_answered",
        "moves_between_roles",
        "sla_breaches_by_week_and_acuity",
        "fairness_by_language",
        "fairness_by_age_band",
    ]
    urgent = next(r for r in rows if r[:1] == ["Urgent"])
    assert urgent[1] == "1"  # one urgent item received
    assert urgent[5] == "1"  # ... answered (first response n)


def test_the_api_answers_the_same_figures(clinic, client_for):
    manager = manager_of(clinic)

    response = client_for(manager).get(f"/api/v1/operations?clinic={clinic.slug}")

    assert response.status_code == 200
    body = response.json()
    assert body["clinic"] == clinic.slug
    assert body["backlog"]["open"] == 1
    assert body["who_answered"]["by_role"][2] == {
        "role": "nurse",
        "label": "Nurse",
        "count": 1,
        "share": 1.0,
    }
    assert len(body["acuity_weekly_series"]["weeks"]) == 12
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    assert client_for(nurse).get("/api/v1/operations").status_code == 404
    portal = IntegrationFactory(clinic=clinic).account
    assert client_for(portal).get(f"/api/v1/operations?clinic={clinic.slug}").status_code == 403
