"""The patient context of a work item (routing.patient_context, the partial
workspace/_patient_context.html): the patient's other conversations in this clinic over
the last 12 months, newest first, who answered, links to them; opening it is logged."""

import datetime

import pytest
from django.utils import timezone

from accounts.models import Role
from inbox.models import PatientDataAccess
from routing import services, work_items
from routing.models import WorkItem
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.inbox.factories import ConversationFactory, PatientFactory
from tests.routing.factories import classified_message, routed_item

pytestmark = pytest.mark.django_db


def _item_of(patient, *, subject: str, days_ago: int, acuity: str = "routine") -> WorkItem:
    conversation = ConversationFactory(patient=patient, subject=subject)
    item = services.route(
        message_id=classified_message(
            patient.clinic, acuity=acuity, conversation=conversation, subject=subject
        ).pk
    )
    WorkItem.objects.filter(pk=item.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=days_ago)
    )
    return item


@pytest.fixture
def day():
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    patient = PatientFactory(clinic=clinic, name="Dana Okonkwo")
    current = _item_of(patient, subject="Rash after the infusion", days_ago=0, acuity="urgent")
    recent = _item_of(patient, subject="Refill of ondansetron", days_ago=20)
    older = _item_of(patient, subject="Parking at the infusion center", days_ago=200)
    too_old = _item_of(patient, subject="Flu shot question", days_ago=400)
    someone_else = _item_of(PatientFactory(clinic=clinic), subject="Other patient", days_ago=5)
    work_items.claim(actor=nurse, item_id=recent.pk)
    work_items.respond(actor=nurse, item_id=recent.pk, body="Sent to the pharmacy.")
    return locals()


def _context(client, user, item):
    client.force_login(user)
    return client.get(f"/work/items/{item.pk}/patient-context/", HTTP_HX_REQUEST="true")


def test_the_other_conversations_of_the_last_12_months_newest_first(client, day):
    response = _context(client, day["nurse"], day["current"])

    html = response.content.decode()
    assert response.status_code == 200
    assert html.index("Refill of ondansetron") < html.index("Parking at the infusion center")
    assert "Flu shot question" not in html  # older than 12 months
    assert "Rash after the infusion" not in html  # the conversation open on the page
    assert "Other patient" not in html
    assert f'href="/work/items/{day["recent"].pk}/"' in html
    assert f"{day['nurse'].username} (nurse)" in html  # who answered
    assert "not answered" in html  # the parking question
    assert "<html" not in html  # a partial for htmx


def test_opening_the_context_is_written_to_the_access_log(client, day):
    before = PatientDataAccess.objects.count()

    _context(client, day["nurse"], day["current"])

    access = PatientDataAccess.objects.order_by("-pk").first()
    assert PatientDataAccess.objects.count() == before + 1
    assert access.what == PatientDataAccess.What.PATIENT_CONTEXT
    assert access.patient == day["patient"]
    assert access.object_id == day["current"].pk


def test_the_work_item_page_loads_the_context_only_on_demand(client, day):
    client.force_login(day["nurse"])
    html = client.get(f"/work/items/{day['current'].pk}/").content.decode()

    assert "Refill of ondansetron" not in html
    assert f'hx-get="/work/items/{day["current"].pk}/patient-context/"' in html
    assert not PatientDataAccess.objects.filter(
        what=PatientDataAccess.What.PATIENT_CONTEXT
    ).exists()


def test_without_htmx_it_is_a_page_of_its_own(client, day):
    client.force_login(day["nurse"])
    response = client.get(f"/work/items/{day['current'].pk}/patient-context/")

    assert "<html" in response.content.decode()
    assert "Refill of ondansetron" in response.content.decode()


def test_a_patient_without_other_conversations_is_told_so(client, day):
    response = _context(client, day["nurse"], day["someone_else"])

    assert "No other conversations" in response.content.decode()


def test_billing_is_refused_with_the_reason_and_nothing_is_logged(client, day):
    billing = StaffFactory(clinic=day["clinic"], role=Role.BILLING)
    before = PatientDataAccess.objects.count()

    response = _context(client, billing, day["current"])

    assert response.status_code == 403
    assert "Refill" not in response.content.decode()
    assert PatientDataAccess.objects.count() == before


def test_another_clinics_nurse_gets_404(client, day):
    outsider = StaffFactory(clinic=ClinicFactory(), role=Role.NURSE)

    assert _context(client, outsider, day["current"]).status_code == 404


def test_no_other_clinics_conversations_of_the_same_person(client, day):
    # The same person as a patient of another clinic (another Patient row) is not shown.
    elsewhere = routed_item(ClinicFactory(), subject="Elsewhere subject")
    assert elsewhere.clinic != day["clinic"]

    html = _context(client, day["nurse"], day["current"]).content.decode()

    assert "Elsewhere subject" not in html
