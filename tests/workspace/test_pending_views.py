"""Pending on the staff screens: the pend form of the work item page, the item leaving
the queue page, the pending list (logged like a queue list), bringing it back, and the
refusal for a role that may not work the item."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.models import Role
from inbox.models import PatientDataAccess
from routing import pending
from routing.models import WorkEvent
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.routing.factories import routed_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic():
    return ClinicFactory(time_zone="America/Los_Angeles")


@pytest.fixture
def nurse(clinic):
    return StaffFactory(clinic=clinic, role=Role.NURSE)


def _tomorrow_local(clinic) -> str:
    local = timezone.localtime(timezone.now(), ZoneInfo(clinic.time_zone))
    return (local + datetime.timedelta(days=1)).strftime("%Y-%m-%dT09:00")


def test_a_nurse_pends_from_the_page_and_the_item_leaves_the_queue(client, clinic, nurse):
    item = routed_item(clinic, acuity="urgent", subject="Lab question")
    client.force_login(nurse)
    assert "Lab question" in client.get(f"/work/?queue={item.queue_id}").content.decode()

    response = client.post(
        f"/work/items/{item.pk}/pend",
        {"reason": "Waiting for the CBC", "until": _tomorrow_local(clinic), "event": ""},
        follow=True,
    )

    html = response.content.decode()
    assert "Pended: it has left the queue" in html
    assert "data-pended-state" in html
    assert "Waiting for the CBC" in html
    item.refresh_from_db()
    local = timezone.localtime(item.pended_until, ZoneInfo(clinic.time_zone))
    assert (local.hour, local.minute) == (9, 0)  # the clinic's wall clock
    assert "Lab question" not in client.get(f"/work/?queue={item.queue_id}").content.decode()


def test_the_pending_list_shows_it_and_is_logged(client, clinic, nurse):
    item = routed_item(clinic, acuity="urgent", subject="Lab question")
    routed_item(clinic, acuity="urgent", subject="Not pended")
    pending.pend(
        actor=nurse,
        item_id=item.pk,
        reason="CBC",
        event="result",
        until=timezone.now() + datetime.timedelta(days=2),
    )
    client.force_login(nurse)
    before = PatientDataAccess.objects.count()

    html = client.get("/work/pending").content.decode()

    assert "Lab question" in html
    assert "Not pended" not in html
    assert "Result back: CBC" in html
    rows = PatientDataAccess.objects.order_by("-pk")[:1]
    assert PatientDataAccess.objects.count() == before + 1
    assert rows[0].what == PatientDataAccess.What.PENDING_LIST
    assert rows[0].patient == item.conversation.patient
    assert "Lab question" in client.get("/work/pending?mine=1").content.decode()


def test_my_pended_items_are_only_mine(client, clinic, nurse):
    item = routed_item(clinic, acuity="urgent", subject="Lab question")
    other = StaffFactory(clinic=clinic, role=Role.NURSE)
    pending.pend(
        actor=other, item_id=item.pk, reason="x", until=timezone.now() + datetime.timedelta(days=1)
    )
    client.force_login(nurse)

    assert "Lab question" not in client.get("/work/pending?mine=1").content.decode()
    assert "Lab question" in client.get("/work/pending").content.decode()


def test_marking_the_event_brings_it_back(client, clinic, nurse):
    item = routed_item(clinic, acuity="urgent", subject="Lab question")
    pending.pend(
        actor=nurse,
        item_id=item.pk,
        reason="CBC",
        event="result",
        until=timezone.now() + datetime.timedelta(days=2),
    )
    client.force_login(nurse)
    page = client.get(f"/work/items/{item.pk}/").content.decode()
    assert "Result back: back to the queue" in page
    assert 'id="claim"' not in page

    client.post(f"/work/items/{item.pk}/unpend")

    item.refresh_from_db()
    assert item.pended_until is None
    assert item.events.filter(kind=WorkEvent.Kind.UNPENDED, actor=nurse).exists()
    assert "Lab question" in client.get(f"/work/?queue={item.queue_id}").content.decode()


def test_a_pend_without_a_reason_says_so_and_changes_nothing(client, clinic, nurse):
    item = routed_item(clinic, acuity="urgent")
    client.force_login(nurse)

    response = client.post(
        f"/work/items/{item.pk}/pend", {"reason": "", "until": _tomorrow_local(clinic)}, follow=True
    )

    assert "Say why the item is pended" in response.content.decode()
    item.refresh_from_db()
    assert item.pended_until is None


def test_a_clerk_sees_no_pend_form_on_urgent_work_and_is_refused_with_the_reason(client, clinic):
    item = routed_item(clinic, acuity="urgent")
    clerk = StaffFactory(clinic=clinic, role=Role.CLERICAL)
    client.force_login(clerk)
    assert "data-pend-form" not in client.get(f"/work/items/{item.pk}/").content.decode()

    response = client.post(
        f"/work/items/{item.pk}/pend", {"reason": "x", "until": _tomorrow_local(clinic)}
    )

    assert response.status_code == 403
    assert "data-refusal" in response.content.decode()
    item.refresh_from_db()
    assert item.pended_until is None


def test_billing_may_not_open_the_pending_list(client, clinic):
    billing = StaffFactory(clinic=clinic, role=Role.BILLING)
    client.force_login(billing)

    assert client.get("/work/pending").status_code == 403
