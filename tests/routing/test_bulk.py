"""routing.bulk: several items claimed, closed or reassigned through the one-at-a-time
services, each on its own; a refusal of one leaves it as it was and the others go ahead."""

import pytest

from accounts.models import Role
from inbox.models import PatientDataAccess
from routing import bulk, bulk_selectors, scope
from routing.models import WorkEvent, WorkItem
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.routing.factories import QueueFactory, routed_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def front_desk():
    clinic = ClinicFactory()
    clerk = StaffFactory(clinic=clinic, role=Role.CLERICAL)
    routine = [routed_item(clinic, level="clerical", subject=f"Reschedule {n}") for n in range(3)]
    urgent = [routed_item(clinic, acuity="urgent", level="clerical") for _ in range(2)]
    records = QueueFactory(clinic=clinic, role="clerical", name="Medical records")
    return clinic, clerk, routine, urgent, records


def test_a_clerk_moves_routine_items_and_is_told_why_not_for_urgent_ones(front_desk):
    clinic, clerk, routine, urgent, records = front_desk
    ids = [routine[0].pk, urgent[0].pk, routine[1].pk, urgent[1].pk, routine[2].pk]

    outcomes = bulk.act_on_items(
        actor=clerk,
        clinic=clinic,
        action=bulk.REASSIGN,
        item_ids=ids,
        reason="records request",
        target=bulk.Target(queue_id=records.pk),
    )

    assert [o.item_id for o in outcomes] == ids  # in the order of the page
    assert [o.done for o in outcomes] == [True, False, True, False, True]
    assert outcomes[0].detail == "sent to Medical records."
    assert outcomes[1].detail.startswith(
        "A clerical role may send a clerical-level message only up, to a more trained role"
    )
    assert set(WorkItem.objects.filter(queue=records).values_list("pk", flat=True)) == {
        i.pk for i in routine
    }
    for item in urgent:  # as it was, and nothing recorded for it
        item.refresh_from_db()
        assert item.queue.role == "clerical"
        assert item.queue != records
        assert not WorkEvent.objects.filter(work_item=item, kind=WorkEvent.Kind.REASSIGNED)


def test_claim_and_close_follow_the_scope_of_practice_item_by_item(front_desk):
    clinic, clerk, routine, urgent, _ = front_desk

    claimed = bulk.act_on_items(
        actor=clerk, clinic=clinic, action=bulk.CLAIM, item_ids=[routine[0].pk, urgent[0].pk]
    )
    closed = bulk.act_on_items(
        actor=clerk, clinic=clinic, action=bulk.CLOSE, item_ids=[routine[0].pk, urgent[1].pk]
    )

    assert [o.done for o in claimed] == [True, False]
    assert "may not claim" in claimed[1].detail
    assert [o.done for o in closed] == [True, False]
    assert "may not close" in closed[1].detail
    routine[0].refresh_from_db()
    assert routine[0].status == WorkItem.Status.CLOSED
    assert routine[0].closed_by == clerk


def test_an_item_of_another_clinic_is_not_confirmed_to_exist(front_desk):
    clinic, clerk, routine, _, _ = front_desk
    theirs = routed_item(ClinicFactory(), level="clerical")

    outcomes = bulk.act_on_items(
        actor=clerk, clinic=clinic, action=bulk.CLAIM, item_ids=[theirs.pk, routine[0].pk, 10**12]
    )

    assert [(o.done, o.detail) for o in outcomes] == [
        (False, bulk.NOT_FOUND),
        (True, "claimed: it is yours now."),
        (False, bulk.NOT_FOUND),
    ]
    theirs.refresh_from_db()
    assert theirs.status == WorkItem.Status.OPEN


@pytest.mark.parametrize(
    ("action", "ids", "reason", "target", "says"),
    [
        ("delete", [1], "", None, "Choose what to do"),
        ("claim", [], "", None, "Select at least one item"),
        ("claim", list(range(1, bulk.BULK_LIMIT + 2)), "", None, "At most 100 items at a time"),
        ("reassign", [1], "why", None, "Choose where to send them"),
        ("reassign", [1], "  ", bulk.Target(role="nurse"), "needs a reason"),
    ],
)
def test_a_request_that_cannot_be_done_attempts_nothing(
    front_desk, action, ids, reason, target, says
):
    clinic, clerk, _routine, _, _ = front_desk
    with pytest.raises(bulk.BulkRequestRefused, match=says):
        bulk.act_on_items(
            actor=clerk, clinic=clinic, action=action, item_ids=ids, reason=reason, target=target
        )
    assert not WorkEvent.objects.filter(actor=clerk).exists()


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (scope.CLERICAL, True),
        (scope.MA, True),
        (scope.NURSE, False),
        (scope.PHYSICIAN, False),
        (scope.BILLING, False),
        (scope.ADMIN, False),
        (None, False),
    ],
)
def test_bulk_actions_are_for_the_front_desk_and_medical_assistants(role, allowed):
    decision = bulk.decide_bulk(role=role)
    assert decision.allowed is allowed
    assert allowed or "Open each item" in decision.reason


@pytest.mark.parametrize(
    ("value", "target"),
    [
        ("role:nurse", bulk.Target(role="nurse")),
        ("queue:12", bulk.Target(queue_id=12)),
        ("person:7", bulk.Target(person_id=7)),
        ("", None),
        ("role:billing", None),
        ("queue:-1", None),
        ("queue:١٢", None),
        ("team:3", None),
    ],
)
def test_parse_target(value, target):
    assert bulk.parse_target(value) == target


def test_parse_item_ids_keeps_order_once_each_and_drops_junk():
    assert bulk.parse_item_ids(["5", "3", "5", "x", "", "-2", "7"]) == [5, 3, 7]


def test_the_summary_names_each_patient_and_logs_them_once(front_desk):
    clinic, clerk, routine, _, _ = front_desk
    outcomes = [
        bulk.Outcome(routine[0].pk, True, "claimed: it is yours now."),
        bulk.Outcome(10**12, False, bulk.NOT_FOUND),
    ]

    lines = bulk_selectors.bulk_summary(
        user=clerk,
        clinic=clinic,
        outcomes=outcomes,
        viewed_as=PatientDataAccess.What.QUEUE_LIST,
    )

    patient = routine[0].conversation.patient
    assert str(lines[0]) == f"Item {routine[0].pk} ({patient.name}): claimed: it is yours now."
    assert str(lines[1]) == f"Item {10**12}: {bulk.NOT_FOUND}"
    logged = PatientDataAccess.objects.filter(user=clerk)
    assert list(logged.values_list("patient_id", "object_id", "what")) == [
        (patient.pk, routine[0].pk, PatientDataAccess.What.QUEUE_LIST)
    ]
