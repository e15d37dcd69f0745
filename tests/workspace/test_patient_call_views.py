"""The work item page: the patient's phone as a tel: link, the "Called the patient" form
on urgent and emergent items only, and the call's outcome in the history."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.models import Role
from routing.models import WorkEvent
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.routing.factories import routed_item

pytestmark = pytest.mark.django_db

CALL_FORM = "data-call-form"


@pytest.fixture
def clinic():
    return ClinicFactory()


@pytest.fixture
def nurse(clinic):
    return StaffFactory(clinic=clinic, role=Role.NURSE)


def page(client, user, item) -> str:
    client.force_login(user)
    response = client.get(f"/work/items/{item.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_patients_phone_is_a_tel_link(client, clinic, nurse):
    item = routed_item(clinic, acuity="urgent")
    patient = item.conversation.patient
    patient.phone = "+1 (415) 555-0100"
    patient.save()

    html = page(client, nurse, item)

    assert '<a href="tel:+1(415)555-0100">+1 (415) 555-0100</a>' in html


def test_without_a_phone_the_page_says_so(client, clinic, nurse):
    html = page(client, nurse, routed_item(clinic, acuity="urgent"))

    assert "No phone number on record" in html
    assert 'href="tel:' not in html


@pytest.mark.parametrize(
    ("acuity", "shown"), [("emergent", True), ("urgent", True), ("routine", False)]
)
def test_the_call_form_is_only_on_urgent_and_emergent_items(client, clinic, nurse, acuity, shown):
    html = page(client, nurse, routed_item(clinic, acuity=acuity))

    assert (CALL_FORM in html) is shown
    assert ('value="voicemail"' in html) is shown


def test_the_call_form_is_not_offered_to_a_clerk_nor_on_a_closed_item(client, clinic, nurse):
    item = routed_item(clinic, acuity="urgent")
    assert CALL_FORM not in page(client, StaffFactory(clinic=clinic, role=Role.CLERICAL), item)

    client.force_login(nurse)
    client.post(f"/work/items/{item.pk}/close")

    assert CALL_FORM not in page(client, nurse, item)


def test_a_call_posted_from_the_page_shows_in_the_history(client, clinic, nurse):
    item = routed_item(clinic, acuity="emergent")
    client.force_login(nurse)

    response = client.post(f"/work/items/{item.pk}/called", {"outcome": "voicemail"})

    assert response.status_code == 302
    html = client.get(response.url).content.decode()
    assert "Call recorded." in html
    assert "Called the patient (left a voicemail) by" in html
    assert WorkEvent.objects.get(work_item=item, kind="called_patient").call_outcome == "voicemail"


def test_a_called_at_time_is_read_in_the_clinics_time_zone(client, clinic, nurse):
    item = routed_item(clinic, acuity="urgent")
    zone = ZoneInfo(clinic.time_zone)
    at = (
        (timezone.now() - datetime.timedelta(hours=2))
        .astimezone(zone)
        .replace(second=0, microsecond=0)
    )
    client.force_login(nurse)

    client.post(
        f"/work/items/{item.pk}/called",
        {"outcome": "reached", "called_at": at.strftime("%Y-%m-%dT%H:%M")},
    )

    event = WorkEvent.objects.get(work_item=item, kind="called_patient")
    assert event.created_at == at
    html = page(client, nurse, item)
    assert f"{at:%d %b %H:%M}</time> Called the patient (reached the patient)" in html


@pytest.mark.parametrize(
    ("form", "words"),
    [
        ({"outcome": "reached", "called_at": "yesterday"}, "as a date and time"),
        ({"outcome": "reached", "called_at": "2020-01-01T10:00"}, "within 24 hours"),
        ({}, "how the call went"),
    ],
)
def test_a_refused_call_shows_why_and_records_nothing(client, clinic, nurse, form, words):
    item = routed_item(clinic, acuity="urgent")
    client.force_login(nurse)

    response = client.post(f"/work/items/{item.pk}/called", form)

    assert words in client.get(response.url).content.decode()
    assert not WorkEvent.objects.filter(work_item=item, kind="called_patient").exists()


def test_a_clerk_posting_a_call_is_told_why_it_is_refused(client, clinic):
    item = routed_item(clinic, acuity="urgent")
    client.force_login(StaffFactory(clinic=clinic, role=Role.CLERICAL))

    response = client.post(f"/work/items/{item.pk}/called", {"outcome": "reached"})

    assert response.status_code == 403
    assert "recorded by MAs, nurses and physicians" in response.content.decode()
    assert not WorkEvent.objects.filter(work_item=item, kind="called_patient").exists()


def test_another_clinics_item_answers_404(client, clinic):
    item = routed_item(clinic, acuity="urgent")
    client.force_login(StaffFactory(clinic=ClinicFactory(), role=Role.NURSE))

    assert client.post(f"/work/items/{item.pk}/called", {"outcome": "reached"}).status_code == 404
