"""Pending (routing.pending): who may pend, what a pend refuses, leaving the pools,
coming back by the sweep, by a person and by a new patient message, and the SLA clock
by the clinic's policy."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.models import Role
from routing import pending, selectors, services, sweeps, work_items
from routing.exceptions import InvalidTarget, InvalidTransition, OutsideScopeOfPractice
from routing.models import ClinicRouting, SlaBreach, WorkEvent, WorkItem
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.routing.factories import classified_message, routed_item

pytestmark = pytest.mark.django_db

HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)


@pytest.fixture
def clinic():
    return ClinicFactory()


@pytest.fixture
def nurse(clinic):
    return StaffFactory(clinic=clinic, role=Role.NURSE)


def _kinds(item) -> list[str]:
    return list(item.events.order_by("id").values_list("kind", flat=True))


def _pool_ids(item) -> list[int]:
    # What the pool's page and counts read (routing.selectors).
    counts = selectors.pool_counts(queues=[item.queue], overdue_in=None, now=timezone.now())
    ids = list(selectors._pool_items(item.queue).values_list("pk", flat=True))
    assert counts[item.queue.pk]["total"] == len(ids)
    return ids


def test_a_pended_item_leaves_its_pool_and_the_sweep_brings_it_back_at_the_time(clinic, nurse):
    item = routed_item(clinic, acuity="urgent")
    now = timezone.now()

    pending.pend(actor=nurse, item_id=item.pk, reason="CBC result", until=now + DAY, now=now)

    assert item.pk not in _pool_ids(item)
    assert pending.return_due_items(now=now + HOUR) == 0  # not yet
    assert pending.return_due_items(now=now + DAY) == 1
    item.refresh_from_db()
    assert item.pended_until is None
    assert item.pend_reason == ""
    assert item.pk in _pool_ids(item)
    assert _kinds(item)[-2:] == [WorkEvent.Kind.PENDED, WorkEvent.Kind.UNPENDED]
    pended = item.events.get(kind=WorkEvent.Kind.PENDED)
    assert pended.actor == nurse
    assert "CBC result" in pended.reason
    assert pending.return_due_items(now=now + 2 * DAY) == 0  # once


def test_pending_releases_the_hold_and_refuses_a_claim_until_it_is_back(clinic, nurse):
    item = routed_item(clinic, acuity="urgent")
    work_items.claim(actor=nurse, item_id=item.pk)

    pending.pend(actor=nurse, item_id=item.pk, reason="wait", until=timezone.now() + DAY)

    item.refresh_from_db()
    assert item.status == WorkItem.Status.OPEN
    assert item.claimed_by is None
    with pytest.raises(InvalidTransition, match="pending"):
        work_items.claim(actor=nurse, item_id=item.pk)
    assert work_items.claim_next(actor=nurse) is None


def test_who_may_not_work_the_item_may_not_pend_it_and_is_told_why(clinic):
    item = routed_item(clinic, acuity="urgent")
    clerk = StaffFactory(clinic=clinic, role=Role.CLERICAL)

    with pytest.raises(OutsideScopeOfPractice) as refused:
        pending.pend(actor=clerk, item_id=item.pk, reason="x", until=timezone.now() + DAY)

    assert refused.value.detail
    item.refresh_from_db()
    assert item.pended_until is None


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"reason": "  ", "until": DAY}, InvalidTarget, "why"),
        ({"reason": "x", "until": None}, InvalidTarget, "date and time"),
        ({"reason": "x", "until": -HOUR}, InvalidTarget, "later than now"),
        ({"reason": "x", "until": 91 * DAY}, InvalidTarget, "90 days"),
        ({"reason": "x", "until": DAY, "event": "lunch"}, InvalidTarget, "event"),
    ],
)
def test_a_pend_without_what_it_needs_is_refused(clinic, nurse, kwargs, error, words):
    item = routed_item(clinic, acuity="urgent")
    now = timezone.now()
    until = kwargs.pop("until")

    with pytest.raises(error, match=words):
        pending.pend(
            actor=nurse, item_id=item.pk, until=now + until if until else None, now=now, **kwargs
        )


def test_an_emergent_item_is_never_pended(clinic, nurse):
    item = routed_item(clinic, acuity="emergent")
    with pytest.raises(InvalidTransition, match="emergent"):
        pending.pend(actor=nurse, item_id=item.pk, reason="x", until=timezone.now() + DAY)


def test_a_time_without_a_zone_is_the_clinics_wall_clock(clinic, nurse):
    clinic.time_zone = "America/Los_Angeles"
    clinic.save()
    item = routed_item(clinic, acuity="urgent")
    wall = (timezone.now() + DAY).astimezone(datetime.UTC).replace(tzinfo=None, microsecond=0)

    pending.pend(actor=nurse, item_id=item.pk, reason="x", until=wall)

    item.refresh_from_db()
    assert item.pended_until == wall.replace(tzinfo=ZoneInfo("America/Los_Angeles"))


def test_an_event_pend_comes_back_when_a_person_marks_the_event(clinic, nurse):
    item = routed_item(clinic, acuity="urgent")
    pending.pend(
        actor=nurse,
        item_id=item.pk,
        reason="potassium",
        event="result",
        until=timezone.now() + 3 * DAY,
    )

    pending.unpend(actor=nurse, item_id=item.pk)

    item.refresh_from_db()
    assert item.pended_until is None
    back = item.events.get(kind=WorkEvent.Kind.UNPENDED)
    assert back.actor == nurse
    assert "result back" in back.reason
    with pytest.raises(InvalidTransition, match="not pending"):
        pending.unpend(actor=nurse, item_id=item.pk)


def test_an_event_pend_comes_back_at_its_no_later_than_date(clinic, nurse):
    item = routed_item(clinic, acuity="urgent")
    now = timezone.now()
    pending.pend(
        actor=nurse, item_id=item.pk, reason="callback", event="callback", until=now + DAY, now=now
    )

    assert pending.return_due_items(now=now + DAY + HOUR) == 1

    back = item.events.get(kind=WorkEvent.Kind.UNPENDED)
    assert "not marked" in back.reason


def test_a_new_patient_message_brings_a_pended_item_back(clinic, nurse):
    item = routed_item(clinic, acuity="urgent")
    pending.pend(
        actor=nurse,
        item_id=item.pk,
        reason="callback",
        event="callback",
        until=timezone.now() + DAY,
    )

    services.route(
        message_id=classified_message(clinic, acuity="urgent", conversation=item.conversation).pk
    )

    item.refresh_from_db()
    assert item.pended_until is None
    assert item.pk in _pool_ids(item)
    assert item.events.get(kind=WorkEvent.Kind.UNPENDED).reason == "the patient wrote again"


def test_by_default_the_clock_runs_and_the_sla_sweep_brings_a_late_pended_item_back(clinic, nurse):
    item = routed_item(clinic, acuity="urgent")
    now = timezone.now()
    due = item.due_at
    pending.pend(actor=nurse, item_id=item.pk, reason="x", until=due + 10 * DAY, now=now)

    assert sweeps.sweep_sla(now=due + HOUR) == 1

    item.refresh_from_db()
    assert item.pended_until is None  # late work is not hidden
    assert SlaBreach.objects.filter(work_item=item).exists()


def test_where_the_clinic_pauses_the_clock_the_sweep_skips_it_and_due_moves_later(clinic, nurse):
    ClinicRouting.objects.create(clinic=clinic, pause_sla_while_pending=True)
    item = routed_item(clinic, acuity="urgent")
    now = timezone.now()
    due = item.due_at
    pending.pend(actor=nurse, item_id=item.pk, reason="x", until=due + 2 * DAY, now=now)

    assert sweeps.sweep_sla(now=due + HOUR) == 0
    assert not SlaBreach.objects.filter(work_item=item).exists()

    back_at = due + 2 * DAY
    assert pending.return_due_items(now=back_at) == 1
    item.refresh_from_db()
    assert item.due_at == due + (back_at - now)
    assert item.pend_pauses_sla is False


def test_an_item_closed_while_pending_ends_its_pend_quietly(clinic, nurse):
    item = routed_item(clinic, acuity="urgent")
    now = timezone.now()
    pending.pend(actor=nurse, item_id=item.pk, reason="x", until=now + DAY, now=now)
    work_items.close(actor=nurse, item_id=item.pk, reason="patient called, resolved")

    assert pending.return_due_items(now=now + 2 * DAY) == 0

    item.refresh_from_db()
    assert item.pended_until is None
    assert item.status == WorkItem.Status.CLOSED
    assert not item.events.filter(kind=WorkEvent.Kind.UNPENDED).exists()
