"""The scope of practice and "closed means closed" enforced by the work item services
(routing.work_items), on the real database: a refusal says why and changes nothing."""

import datetime

import pytest
from django.utils import timezone

from accounts.models import Absence, Role
from billing import services as billing_services
from billing.models import TimeEntry
from inbox.models import OutgoingMessage
from routing import coverage, work_items
from routing.exceptions import (
    InvalidTarget,
    InvalidTransition,
    OutsideScopeOfPractice,
    WorkItemClosed,
)
from routing.models import RoutingRule, ScopeGrant, WorkEvent, WorkItem
from routing.services import ensure_default_queues
from tests.accounts.factories import ClinicFactory, MembershipFactory, StaffFactory
from tests.inbox.factories import MessageFactory
from tests.routing.factories import routed_item
from triage.ml.labels import ACUITY_RANK, Acuity
from triage.models import LabelCorrection

pytestmark = pytest.mark.django_db


def make_item(clinic, *, level: str, acuity: str, due_in: int = 60) -> WorkItem:
    """An open item of `clinic` in its role's default pool, exactly as asked (no rule)."""
    queue = ensure_default_queues(clinic=clinic)[level]
    message = MessageFactory(conversation__patient__clinic=clinic)
    return WorkItem.objects.create(
        clinic=clinic,
        conversation=message.conversation,
        message=message,
        queue=queue,
        acuity=acuity,
        acuity_rank=ACUITY_RANK[Acuity(acuity)],
        service_level=level,
        due_at=timezone.now() + datetime.timedelta(minutes=due_in),
    )


FIELDS = (
    "status",
    "claimed_by_id",
    "claimed_at",
    "closed_at",
    "closed_by_id",
    "queue_id",
    "service_level",
    "acuity",
    "due_at",
    "escalation_level",
    "updated_at",
)


def snapshot(item: WorkItem) -> dict:
    """Everything a refused action could have changed."""
    fresh = WorkItem.objects.get(pk=item.pk)
    return {
        **{field: getattr(fresh, field) for field in FIELDS},
        "events": WorkEvent.objects.filter(work_item=item).count(),
        "replies": OutgoingMessage.objects.filter(conversation_id=item.conversation_id).count(),
        "time": TimeEntry.objects.filter(work_item=item).count(),
        "corrections": LabelCorrection.objects.count(),
    }


@pytest.fixture
def clinic():
    clinic = ClinicFactory()
    ensure_default_queues(clinic=clinic)
    return clinic


@pytest.fixture
def staff(clinic):
    return {role: StaffFactory(clinic=clinic, role=role) for role in Role.values}


def act(action: str, actor, item: WorkItem):
    if action == "claim":
        return work_items.claim(actor=actor, item_id=item.pk)
    if action == "reply":
        return work_items.respond(actor=actor, item_id=item.pk, body="Please call us.")
    return work_items.close(actor=actor, item_id=item.pk)


# --- the scope of practice -----------------------------------------------------------------


@pytest.mark.parametrize("action", ["claim", "reply", "close"])
@pytest.mark.parametrize(
    ("role", "level", "acuity"),
    [
        (Role.CLERICAL, "clerical", "urgent"),
        (Role.CLERICAL, "ma", "routine"),
        (Role.CLERICAL, "nurse", "routine"),
        (Role.MA, "ma", "urgent"),
        (Role.MA, "clerical", "urgent"),
        (Role.MA, "nurse", "routine"),
        (Role.MA, "physician", "routine"),
        (Role.MA, "nurse", "emergent"),
        (Role.BILLING, "clerical", "routine"),
        (Role.ADMIN, "clerical", "routine"),
    ],
)
def test_a_clerk_or_ma_is_refused_urgent_or_clinical_work_and_nothing_changes(
    clinic, staff, action, role, level, acuity
):
    item = make_item(clinic, level=level, acuity=acuity)
    before = snapshot(item)

    with pytest.raises(OutsideScopeOfPractice) as refused:
        act(action, staff[role], item)

    assert refused.value.http_status == 403
    assert refused.value.code == "outside_scope_of_practice"
    assert "may not" in refused.value.detail
    assert snapshot(item) == before


def test_the_refusal_says_who_must_and_offers_nurse_triage(clinic, staff):
    item = make_item(clinic, level="clerical", acuity="urgent")

    with pytest.raises(OutsideScopeOfPractice) as refused:
        work_items.close(actor=staff[Role.CLERICAL], item_id=item.pk)

    assert refused.value.detail == (
        "A clerical role may not close an urgent clerical-level message: a nurse or "
        "physician must. Send it to nurse triage."
    )


def test_a_clerk_claims_replies_to_and_closes_routine_clerical_work(clinic, staff):
    clerk = staff[Role.CLERICAL]
    item = make_item(clinic, level="clerical", acuity="routine")

    work_items.claim(actor=clerk, item_id=item.pk)
    work_items.respond(actor=clerk, item_id=item.pk, body="Tuesday at 3 pm works.")
    closed = work_items.close(actor=clerk, item_id=item.pk)

    assert (closed.status, closed.closed_by) == ("closed", clerk)


def test_an_ma_works_routine_ma_and_clerical_items(clinic, staff):
    ma = staff[Role.MA]
    for level in ("ma", "clerical"):
        item = make_item(clinic, level=level, acuity="routine")
        work_items.claim(actor=ma, item_id=item.pk)
        work_items.respond(actor=ma, item_id=item.pk, body="The form is ready.")
        assert work_items.close(actor=ma, item_id=item.pk).status == "closed"


def test_the_role_is_the_one_held_in_the_items_clinic(clinic, staff):
    # A nurse here, a clerk there: the clerk's scope applies to the other clinic's items.
    nurse = staff[Role.NURSE]
    elsewhere = ClinicFactory()
    MembershipFactory(user=nurse, clinic=elsewhere, role=Role.CLERICAL)
    there = make_item(elsewhere, level="nurse", acuity="routine")
    here = make_item(clinic, level="nurse", acuity="routine")

    with pytest.raises(OutsideScopeOfPractice):
        work_items.claim(actor=nurse, item_id=there.pk)
    assert work_items.claim(actor=nurse, item_id=here.pk).claimed_by == nurse


def test_claim_next_never_hands_out_an_item_outside_the_scope(clinic, staff):
    clerk, ma = staff[Role.CLERICAL], staff[Role.MA]
    urgent_clerical = make_item(clinic, level="clerical", acuity="urgent", due_in=5)
    make_item(clinic, level="nurse", acuity="emergent", due_in=1)
    make_item(clinic, level="ma", acuity="urgent", due_in=2)
    routine_ma = make_item(clinic, level="ma", acuity="routine", due_in=30)
    routine_clerical = make_item(clinic, level="clerical", acuity="routine", due_in=90)
    make_item(clinic, level="physician", acuity="routine", due_in=3)

    assert work_items.claim_next(actor=clerk) == routine_clerical
    assert work_items.claim_next(actor=clerk) is None
    assert work_items.claim_next(actor=ma) == routine_ma
    assert work_items.claim_next(actor=ma) is None
    assert work_items.claim_next(actor=staff[Role.BILLING]) is None
    urgent_clerical.refresh_from_db()
    assert urgent_clerical.claimed_by is None
    # The nurse takes what they left, most acute first.
    assert work_items.claim_next(actor=staff[Role.NURSE]).acuity == "emergent"


def test_a_nurse_closes_a_physician_level_item_only_after_a_physician_replied(clinic, staff):
    nurse, physician = staff[Role.NURSE], staff[Role.PHYSICIAN]
    item = make_item(clinic, level="physician", acuity="routine")
    work_items.claim(actor=nurse, item_id=item.pk)
    work_items.respond(actor=nurse, item_id=item.pk, body="The doctor will look at it.")
    before = snapshot(item)

    with pytest.raises(OutsideScopeOfPractice) as refused:
        work_items.close(actor=nurse, item_id=item.pk)  # a nurse's own reply is not enough

    assert "until a physician has replied" in refused.value.detail
    assert snapshot(item) == before

    # Back in the pool (as when the patient writes back); the physician answers: now the
    # nurse may close it.
    WorkItem.objects.filter(pk=item.pk).update(
        status=WorkItem.Status.OPEN, claimed_by=None, claimed_at=None
    )
    work_items.respond(actor=physician, item_id=item.pk, body="Take 5 mg instead.")
    closed = work_items.close(actor=nurse, item_id=item.pk)
    assert (closed.status, closed.closed_by) == ("closed", nurse)


def test_a_reply_by_a_physician_of_another_clinic_does_not_count(clinic, staff):
    nurse = staff[Role.NURSE]
    item = make_item(clinic, level="physician", acuity="routine")
    # Someone who is a physician elsewhere but a nurse here writes the reply.
    other = StaffFactory(clinic=ClinicFactory(), role=Role.PHYSICIAN)
    MembershipFactory(user=other, clinic=clinic, role=Role.NURSE)
    work_items.respond(actor=other, item_id=item.pk, body="Noted.")

    with pytest.raises(OutsideScopeOfPractice):
        work_items.close(actor=nurse, item_id=item.pk)


def test_a_grant_widens_one_case_for_one_clinic(clinic, staff):
    ma = staff[Role.MA]
    ScopeGrant.objects.create(
        clinic=clinic,
        role=Role.MA,
        action="close",
        service_level="ma",
        acuity="urgent",
        reason="LVN working as MA",
    )
    urgent_ma = make_item(clinic, level="ma", acuity="urgent")
    urgent_clerical = make_item(clinic, level="clerical", acuity="urgent")

    assert work_items.close(actor=ma, item_id=urgent_ma.pk).status == "closed"
    with pytest.raises(OutsideScopeOfPractice):
        work_items.close(actor=ma, item_id=urgent_clerical.pk)  # another case
    # The grant does not reach the MA's other clinic.
    elsewhere = ClinicFactory()
    MembershipFactory(user=ma, clinic=elsewhere, role=Role.MA)
    with pytest.raises(OutsideScopeOfPractice):
        work_items.close(actor=ma, item_id=make_item(elsewhere, level="ma", acuity="urgent").pk)


def test_claim_next_follows_the_clinics_claim_grants(clinic, staff):
    ma = staff[Role.MA]
    urgent_ma = make_item(clinic, level="ma", acuity="urgent")
    assert work_items.claim_next(actor=ma) is None
    ScopeGrant.objects.create(
        clinic=clinic, role=Role.MA, action="claim", service_level="ma", acuity="urgent", reason="x"
    )

    assert work_items.claim_next(actor=ma) == urgent_ma


def test_anyone_sends_work_up_but_only_who_may_take_it_moves_it_down(clinic, staff):
    clerk, nurse = staff[Role.CLERICAL], staff[Role.NURSE]
    urgent = make_item(clinic, level="clerical", acuity="urgent")
    nurse_work = make_item(clinic, level="nurse", acuity="routine")

    sent = work_items.reassign(
        actor=clerk, item_id=urgent.pk, role="nurse", reason="outside my scope"
    )
    assert (sent.service_level, sent.queue.role, sent.status) == ("nurse", "nurse", "open")
    before = snapshot(nurse_work)
    with pytest.raises(OutsideScopeOfPractice):
        work_items.reassign(actor=clerk, item_id=nurse_work.pk, role="clerical", reason="mine")
    assert snapshot(nurse_work) == before
    moved = work_items.reassign(
        actor=nurse, item_id=nurse_work.pk, role="clerical", reason="scheduling only"
    )
    assert moved.service_level == "clerical"


# --- closed means closed --------------------------------------------------------------------


@pytest.fixture
def closed_item(clinic, staff):
    item = make_item(clinic, level="nurse", acuity="routine")
    work_items.claim(actor=staff[Role.NURSE], item_id=item.pk)
    return work_items.close(actor=staff[Role.NURSE], item_id=item.pk, reason="answered by phone")


CLOSED_ACTIONS = {
    "claim": lambda actor, i: work_items.claim(actor=actor, item_id=i),
    "return": lambda actor, i: work_items.return_to_queue(actor=actor, item_id=i),
    "reassign": lambda actor, i: work_items.reassign(
        actor=actor, item_id=i, role="physician", reason="dose question"
    ),
    "escalate": lambda actor, i: work_items.escalate(actor=actor, item_id=i, reason="dose"),
    "reply": lambda actor, i: work_items.respond(actor=actor, item_id=i, body="One more thing"),
    "close": lambda actor, i: work_items.close(actor=actor, item_id=i),
    "start a timer": lambda actor, i: billing_services.start_timer(actor=actor, item_id=i),
    "record a call": lambda actor, i: work_items.record_patient_call(
        actor=actor, item_id=i, outcome="reached"
    ),
}


@pytest.mark.parametrize("action", CLOSED_ACTIONS)
@pytest.mark.parametrize("role", [Role.NURSE, Role.PHYSICIAN])
def test_every_action_on_a_closed_item_but_reopen_is_refused(closed_item, staff, action, role):
    before = snapshot(closed_item)

    with pytest.raises(InvalidTransition) as refused:
        CLOSED_ACTIONS[action](staff[role], closed_item.pk)

    assert "closed" in refused.value.detail
    assert snapshot(closed_item) == before


def test_a_closed_item_says_who_closed_it_when_refusing(closed_item, staff):
    with pytest.raises(WorkItemClosed) as refused:
        work_items.claim(actor=staff[Role.PHYSICIAN], item_id=closed_item.pk)

    assert refused.value.code == "work_item_closed"
    assert refused.value.detail == (
        f"This item was closed by {staff[Role.NURSE].username}, so it cannot be claimed. If "
        "there is more to do, a nurse or physician may reopen it."
    )


def test_no_time_is_logged_on_a_closed_item(closed_item, staff):
    # Read-only: time spent after the close is logged once a nurse or physician reopens it.
    with pytest.raises(WorkItemClosed):
        billing_services.log_minutes(actor=staff[Role.NURSE], item_id=closed_item.pk, minutes=4)
    assert not TimeEntry.objects.filter(work_item=closed_item).exists()


@pytest.mark.parametrize("role", [Role.NURSE, Role.PHYSICIAN])
def test_a_nurse_or_physician_reopens_a_closed_item_with_a_reason(
    closed_item, staff, role, django_capture_on_commit_callbacks
):
    actor = staff[role]
    with pytest.raises(InvalidTarget):
        work_items.reopen(actor=actor, item_id=closed_item.pk, reason="  ")

    item = work_items.reopen(actor=actor, item_id=closed_item.pk, reason="lab result came back")

    assert (item.status, item.claimed_by, item.closed_at, item.closed_by) == (
        "open",
        None,
        None,
        None,
    )
    assert item.queue == closed_item.queue
    assert item.due_at > timezone.now()
    event = item.events.latest("id")
    assert (event.kind, event.actor, event.reason) == ("reopened", actor, "lab result came back")
    # Open again: it can be worked as any other.
    assert work_items.claim(actor=actor, item_id=item.pk).status == "claimed"


@pytest.mark.parametrize("role", [Role.CLERICAL, Role.MA, Role.BILLING, Role.ADMIN])
def test_reopen_by_anyone_else_is_refused(closed_item, staff, role):
    before = snapshot(closed_item)

    with pytest.raises(OutsideScopeOfPractice) as refused:
        work_items.reopen(actor=staff[role], item_id=closed_item.pk, reason="patient called")

    assert refused.value.detail.endswith(
        "may not reopen a closed message: a nurse or physician must."
    )
    assert snapshot(closed_item) == before


def test_only_a_closed_item_is_reopened(clinic, staff):
    item = make_item(clinic, level="nurse", acuity="routine")
    with pytest.raises(InvalidTransition):
        work_items.reopen(actor=staff[Role.NURSE], item_id=item.pk, reason="again")


def test_the_patient_writing_again_reopens_and_clears_who_closed_it(clinic, staff):
    nurse = staff[Role.NURSE]
    item = routed_item(clinic)
    work_items.claim(actor=nurse, item_id=item.pk)
    assert work_items.close(actor=nurse, item_id=item.pk).closed_by == nurse

    again = routed_item(clinic, conversation=item.conversation)

    assert (again.pk, again.status) == (item.pk, "open")
    assert (again.closed_at, again.closed_by) == (None, None)


# --- nobody is handed work outside their scope ----------------------------------------------


def test_work_is_not_reassigned_to_a_person_who_may_not_take_it(clinic, staff):
    item = make_item(clinic, level="nurse", acuity="urgent")
    before = snapshot(item)

    with pytest.raises(OutsideScopeOfPractice, match="may not take urgent ma-level work"):
        work_items.reassign(
            actor=staff[Role.NURSE], item_id=item.pk, reason="MA call", person_id=staff[Role.MA].pk
        )

    assert snapshot(item) == before


def test_cover_outside_the_scope_leaves_held_work_in_the_pool(clinic, staff):
    nurse, ma = staff[Role.NURSE], staff[Role.MA]
    item = make_item(clinic, level="nurse", acuity="urgent")
    work_items.claim(actor=nurse, item_id=item.pk)
    now = timezone.now()
    Absence.objects.create(
        user=nurse,
        starts_at=now - datetime.timedelta(minutes=1),
        ends_at=now + datetime.timedelta(days=1),
        covering_user=ma,
    )

    assert coverage.apply_coverage(now=now) == 1

    item.refresh_from_db()
    assert (item.status, item.claimed_by) == ("open", None)
    event = item.events.get(kind=WorkEvent.Kind.COVERED)
    assert "may not take urgent nurse-level work" in event.reason


def test_a_rules_assignee_outside_the_scope_leaves_the_item_in_the_pool(clinic, staff):
    RoutingRule.objects.create(
        clinic=clinic,
        name="Refills to the front desk",
        order=1,
        conditions={"acuity": "urgent"},
        action={"assign_to": staff[Role.CLERICAL].pk},
    )

    item = routed_item(clinic, acuity="urgent", level="nurse")

    assert (item.status, item.claimed_by) == ("open", None)
    assigned = item.events.get(kind=WorkEvent.Kind.ASSIGNED)
    assert "may not take urgent nurse-level work" in assigned.reason
