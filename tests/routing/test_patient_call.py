"""A call to the patient of an urgent or emergent item is recorded as a work event with
its outcome and time, by MAs, nurses and physicians of the item's clinic."""

import datetime

import pytest
from django.http import Http404
from django.utils import timezone

from accounts.models import Role
from routing import work_items
from routing.exceptions import InvalidTransition, PatientCallNotPermitted, PatientCallRefused
from routing.models import WorkEvent
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.routing.factories import routed_item

pytestmark = pytest.mark.django_db

Outcome = WorkEvent.CallOutcome


@pytest.fixture
def clinic():
    return ClinicFactory()


@pytest.fixture
def nurse(clinic):
    return StaffFactory(clinic=clinic, role=Role.NURSE)


def calls(item):
    return WorkEvent.objects.filter(work_item=item, kind=WorkEvent.Kind.CALLED_PATIENT)


@pytest.mark.parametrize("acuity", ["urgent", "emergent"])
@pytest.mark.parametrize("outcome", Outcome.values)
def test_a_call_is_recorded_as_an_event_with_its_outcome_now(clinic, nurse, acuity, outcome):
    item = routed_item(clinic, acuity=acuity)
    before = timezone.now()

    event = work_items.record_patient_call(actor=nurse, item_id=item.pk, outcome=outcome)

    [stored] = calls(item)
    assert stored == event
    assert (stored.call_outcome, stored.actor, stored.reason) == (outcome, nurse, "")
    assert before <= stored.created_at <= timezone.now()
    # Nothing moved: the item is where it was.
    item.refresh_from_db()
    assert (item.status, item.claimed_by) == ("open", None)


def test_a_call_entered_later_keeps_the_time_it_was_made(clinic, nurse):
    item = routed_item(clinic, acuity="urgent")
    called_at = timezone.now() - datetime.timedelta(hours=3)

    work_items.record_patient_call(
        actor=nurse, item_id=item.pk, outcome=Outcome.VOICEMAIL, called_at=called_at
    )

    [stored] = calls(item)
    assert stored.created_at == called_at
    assert stored.reason.startswith("entered ")  # when it was written, for the audit trail


@pytest.mark.parametrize(
    ("shift", "words"),
    [
        (datetime.timedelta(hours=-25), "within 24 hours"),
        (datetime.timedelta(minutes=10), "later than now"),
    ],
)
def test_a_call_more_than_24_hours_back_or_in_the_future_is_refused(clinic, nurse, shift, words):
    item = routed_item(clinic, acuity="urgent")

    with pytest.raises(PatientCallRefused, match=words):
        work_items.record_patient_call(
            actor=nurse,
            item_id=item.pk,
            outcome=Outcome.REACHED,
            called_at=timezone.now() + shift,
        )
    assert not calls(item).exists()


def test_an_unknown_outcome_is_refused(clinic, nurse):
    item = routed_item(clinic, acuity="urgent")

    with pytest.raises(PatientCallRefused, match="how the call went"):
        work_items.record_patient_call(actor=nurse, item_id=item.pk, outcome="busy")
    assert not calls(item).exists()


def test_a_routine_item_is_refused(clinic, nurse):
    item = routed_item(clinic, acuity="routine")

    with pytest.raises(PatientCallRefused, match="urgent and emergent items only") as refused:
        work_items.record_patient_call(actor=nurse, item_id=item.pk, outcome=Outcome.REACHED)
    assert refused.value.http_status == 400
    assert not calls(item).exists()


def test_a_closed_item_is_refused(clinic, nurse):
    item = routed_item(clinic, acuity="urgent")
    work_items.close(actor=nurse, item_id=item.pk)

    with pytest.raises(InvalidTransition, match="closed"):
        work_items.record_patient_call(actor=nurse, item_id=item.pk, outcome=Outcome.REACHED)
    assert not calls(item).exists()


def test_another_clinics_item_is_not_found(clinic):
    item = routed_item(clinic, acuity="emergent")
    outsider = StaffFactory(clinic=ClinicFactory(), role=Role.NURSE)

    with pytest.raises(Http404):
        work_items.record_patient_call(actor=outsider, item_id=item.pk, outcome=Outcome.REACHED)
    assert not calls(item).exists()


@pytest.mark.parametrize("role", [Role.CLERICAL, Role.BILLING, Role.ADMIN])
def test_clerical_billing_and_admin_staff_are_refused(clinic, role):
    item = routed_item(clinic, acuity="urgent")

    with pytest.raises(PatientCallNotPermitted, match="MAs, nurses and physicians") as refused:
        work_items.record_patient_call(
            actor=StaffFactory(clinic=clinic, role=role), item_id=item.pk, outcome=Outcome.REACHED
        )
    assert refused.value.http_status == 403
    assert not calls(item).exists()


@pytest.mark.parametrize("role", [Role.MA, Role.NURSE, Role.PHYSICIAN])
def test_mas_nurses_and_physicians_may_record_a_call(clinic, role):
    item = routed_item(clinic, acuity="urgent")

    work_items.record_patient_call(
        actor=StaffFactory(clinic=clinic, role=role), item_id=item.pk, outcome=Outcome.NO_ANSWER
    )

    assert calls(item).get().call_outcome == Outcome.NO_ANSWER
