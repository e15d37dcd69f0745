"""Work item transitions: claim, return, reassign, escalate, respond, close, reopen; and
the record of a call to the patient.

Only the clinical roles act on work items (billing and administrators are refused, 403);
claim, reply and close follow the scope of practice (routing/scope.py) of the role the
actor holds in the item's clinic; a closed item is read-only until a nurse or physician
reopens it. A refusal changes nothing.

First read and first response are recorded here too, once each (record_first_read, and
claim, claim_next and respond), for the operations dashboard.

Each function runs in one transaction, locks the rows it changes and re-checks their
state under the lock, so two people clicking at once leave one consistent result. Every
transition writes a WorkEvent.
"""

import datetime
from zoneinfo import ZoneInfo

from django.db import transaction
from django.http import Http404
from django.utils import timezone

from accounts.models import Role, User
from accounts.selectors import clinics_for_user
from inbox import services as inbox_services
from inbox.models import OutgoingMessage
from routing import clinic_settings, scope, scope_selectors, selectors, sla, webhooks
from routing.coverage import may_take, resolve_person
from routing.events import record_event
from routing.exceptions import (
    InvalidTarget,
    InvalidTransition,
    OutsideScopeOfPractice,
    PatientCallNotPermitted,
    PatientCallRefused,
    WorkItemClosed,
)
from routing.models import Queue, WorkEvent, WorkItem
from routing.services import NEXT_ROLE_UP, UNANSWERED, default_queue
from triage import services as triage_services
from triage.ml.labels import SERVICE_LEVEL_RANK, Acuity, ServiceLevel


def _locked_item(*, actor: User, item_id: int, role_checked_by_caller: bool = False) -> WorkItem:
    """The item, locked, if the actor is staff of its clinic (else 404: never confirm an
    item of another clinic exists) in a role that works messages (else 403: billing and
    administrators take no action on them). A caller whose own role check is narrower and
    says more (calls, reopening) makes it instead."""
    item = (
        WorkItem.objects.select_for_update(of=("self",))
        .select_related("queue", "clinic")
        .filter(pk=item_id, clinic__in=clinics_for_user(user=actor))
        .first()
    )
    if item is None:
        raise Http404("work item not found")
    if not role_checked_by_caller:
        selectors.require_work_role(user=actor, clinic_id=item.clinic_id)
    return item


def _refuse_if_closed(item: WorkItem, *, done: str) -> None:
    """A closed item is read-only: every action but reopen is refused, saying so."""
    if item.status != WorkItem.Status.CLOSED:
        return
    by = f" by {item.closed_by.get_username()}" if item.closed_by_id else ""
    raise WorkItemClosed(
        f"This item was closed{by}, so it cannot be {done}. If there is more to do, a nurse "
        "or physician may reopen it."
    )


def _check_scope(*, actor: User, item: WorkItem, action: str) -> None:
    decision = scope_selectors.scope_decisions(user=actor, item=item, actions=[action])[action]
    if not decision.allowed:
        raise OutsideScopeOfPractice(decision.reason)


def claim(*, actor: User, item_id: int) -> WorkItem:
    """Take one open item. A conditional update decides: of two people claiming at once,
    exactly one succeeds and the other gets InvalidTransition."""
    now = timezone.now()
    with transaction.atomic():
        visible = WorkItem.objects.filter(pk=item_id, clinic__in=clinics_for_user(user=actor))
        seen = visible.first()
        if seen is None:
            raise Http404("work item not found")
        selectors.require_work_role(user=actor, clinic_id=seen.clinic_id)
        _refuse_if_closed(seen, done="claimed")
        _check_scope(actor=actor, item=seen, action=scope.CLAIM)
        if seen.pended_until is not None:
            raise InvalidTransition("This item is pending: bring it back to the queue first.")
        # Taken only as it was judged: a move or a raise in between leaves it untaken.
        taken = visible.filter(
            status=WorkItem.Status.OPEN,
            claimed_by__isnull=True,
            pended_until=None,
            service_level=seen.service_level,
            acuity=seen.acuity,
        ).update(status=WorkItem.Status.CLAIMED, claimed_by=actor, claimed_at=now, updated_at=now)
        if not taken:
            now_item = visible.first()
            _refuse_if_closed(now_item, done="claimed")
            if now_item.status == WorkItem.Status.OPEN and now_item.claimed_by_id is None:
                raise InvalidTransition("This item changed meanwhile (moved or raised).")
            raise InvalidTransition("This item is no longer open: someone else has it.")
        item = WorkItem.objects.select_related("queue").get(pk=item_id)
        record_event(item, WorkEvent.Kind.CLAIMED, actor=actor, from_queue=item.queue)
        # A claim is a read too (through the API, no page need be opened); the scope
        # check above already says the claimer may act on it.
        _mark_first_read(item=item, actor=actor, at=now)
        return item


def claim_next(*, actor: User, queue_ids: list[int] | None = None) -> WorkItem | None:
    """The most acute, earliest-due unclaimed item of my queues, claimed for me. Rows
    another transaction is claiming are skipped, so concurrent callers never collide."""
    queues = selectors.queues_for_user(user=actor)
    if queue_ids is not None:
        queues = queues.filter(pk__in=queue_ids)
    with transaction.atomic():
        item = (
            WorkItem.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(queue__in=queues, status=WorkItem.Status.OPEN, claimed_by__isnull=True)
            .filter(pended_until=None)  # pended: out of the pools (routing.pending)
            # Never hand out what the person may not take (their role's scope of practice).
            .filter(scope_selectors.claimable_by(user=actor))
            .order_by("acuity_rank", "due_at", "id")
            .first()
        )
        if item is None:
            return None
        now = timezone.now()
        item.hold_for(actor, now)
        item.save(update_fields=["status", "claimed_by", "claimed_at", "updated_at"])
        record_event(
            item, WorkEvent.Kind.CLAIMED, actor=actor, from_queue=item.queue, reason="next item"
        )
        # claimable_by above is the scope of practice: the claimer may act on it.
        _mark_first_read(item=item, actor=actor, at=now)
        return item


def record_first_read(*, actor: User, item: WorkItem) -> bool:
    """The item page was opened: the item's first read, if `actor` may act on it (claim or
    reply, by the scope of practice of their role in its clinic) and nobody who may has
    read it before. Someone who only looks (a clerk at an urgent message, say) does not
    start the clock's second leg. A closed item is not read for the first time: whatever
    made it was. True when this call recorded it."""
    if item.first_read_at is not None or item.status == WorkItem.Status.CLOSED:
        return False
    decisions = scope_selectors.scope_decisions(
        user=actor, item=item, actions=[scope.CLAIM, scope.REPLY]
    )
    if not any(d.allowed for d in decisions.values()):
        return False
    return _mark_first_read(item=item, actor=actor, at=timezone.now())


def _mark_first_read(*, item: WorkItem, actor: User, at: datetime.datetime) -> bool:
    # A conditional UPDATE: of two people opening the item at once, one is recorded.
    marked = WorkItem.objects.filter(pk=item.pk, first_read_at__isnull=True).update(
        first_read_at=at, first_read_by=actor
    )
    if marked:
        item.first_read_at, item.first_read_by = at, actor
    return bool(marked)


def return_to_queue(*, actor: User, item_id: int, reason: str = "") -> WorkItem:
    with transaction.atomic():
        item = _locked_item(actor=actor, item_id=item_id)
        _refuse_if_closed(item, done="returned to its queue")
        if item.status != WorkItem.Status.CLAIMED:
            raise InvalidTransition("Only a claimed item can be returned to its queue.")
        holds_it = item.claimed_by_id == actor.pk
        may_claim = holds_it or (
            scope_selectors.scope_decisions(user=actor, item=item, actions=[scope.CLAIM])[
                scope.CLAIM
            ].allowed
        )
        decision = scope.decide_return(
            role=clinic_settings.membership_role(user_id=actor.pk, clinic=item.clinic),
            holds_it=holds_it,
            may_claim=may_claim,
        )
        if not decision.allowed:
            raise OutsideScopeOfPractice(decision.reason)
        from_user = item.claimed_by
        item.release()
        item.save(update_fields=["status", "claimed_by", "claimed_at", "updated_at"])
        record_event(
            item,
            WorkEvent.Kind.RETURNED,
            actor=actor,
            from_queue=item.queue,
            from_user=from_user,
            reason=reason,
        )
        return item


def reassign(
    *,
    actor: User,
    item_id: int,
    reason: str,
    role: str | None = None,
    queue_id: int | None = None,
    person_id: int | None = None,
) -> WorkItem:
    """Move an item to a role's pool, a queue, or a person, with a reason. A move to
    another role is also a label correction for the next training run."""
    if not reason or not reason.strip():
        raise InvalidTarget("A reassignment needs a reason.")
    if sum(x is not None for x in (role, queue_id, person_id)) != 1:
        raise InvalidTarget("Reassign to exactly one of: a role, a queue or a person.")
    with transaction.atomic():
        item = _locked_item(actor=actor, item_id=item_id)
        _refuse_if_closed(item, done="reassigned")
        if item.status not in UNANSWERED:
            raise InvalidTransition("Only open or claimed work can be reassigned.")
        from_queue, from_user, from_role = item.queue, item.claimed_by, item.service_level
        person = None
        if role is not None:
            if role not in ServiceLevel.values:
                raise InvalidTarget(f"Unknown role {role!r}.")
            queue = default_queue(clinic=item.clinic, role=role)
        elif queue_id is not None:
            queue = Queue.objects.filter(pk=queue_id, clinic=item.clinic).first()
            if queue is None or queue.role not in ServiceLevel.values:
                raise InvalidTarget("No such work queue in this clinic.")
        else:
            person_role = clinic_settings.membership_role(user_id=person_id, clinic=item.clinic)
            if person_role not in ServiceLevel.values:
                raise InvalidTarget("Assign work to clinical staff of this clinic.")
            if not may_take(
                user_id=person_id,
                clinic=item.clinic,
                service_level=person_role,
                acuity=item.acuity,
            ):
                raise OutsideScopeOfPractice(
                    f"That person's role ({person_role}) may not take {item.acuity} "
                    f"{person_role}-level work: assign it to a role or person who may."
                )
            person, why = resolve_person(
                user_id=person_id,
                clinic=item.clinic,
                at=timezone.now(),
                work=(person_role, item.acuity),
            )
            reason = f"{reason} ({why})"
            # The person works from their role's queue; an absent person's work goes to it.
            queue = (
                item.queue
                if item.queue.role == person_role
                else default_queue(clinic=item.clinic, role=person_role)
            )
        _check_reassign_scope(actor=actor, item=item, to_level=queue.role)
        if (
            item.acuity == Acuity.EMERGENT
            and SERVICE_LEVEL_RANK[ServiceLevel(queue.role)]
            < (SERVICE_LEVEL_RANK[ServiceLevel.NURSE])
        ):
            raise InvalidTarget("An emergent item stays with a nurse or physician.")
        item.queue, item.service_level = queue, queue.role
        if person is not None:
            item.hold_for(person, timezone.now())
        else:
            item.release()
        item.routing_reason = f"reassigned by {actor.get_username()}: {reason}"[:500]
        item.save()
        record_event(
            item,
            WorkEvent.Kind.REASSIGNED,
            actor=actor,
            from_queue=from_queue,
            from_user=from_user,
            reason=reason,
        )
        if item.service_level != from_role:
            triage_services.record_label_correction(
                message=item.message,
                label="service_level",
                from_value=from_role,
                to_value=item.service_level,
                actor=actor,
                reason=reason,
            )
        return item


def _check_reassign_scope(*, actor: User, item: WorkItem, to_level: str) -> None:
    """Up, anyone may; sideways or down, only someone who may claim the item."""
    if scope.is_move_up(from_level=item.service_level, to_level=to_level):
        return
    claim_decision = scope_selectors.scope_decisions(user=actor, item=item, actions=[scope.CLAIM])
    decision = scope.decide_reassign(
        role=clinic_settings.membership_role(user_id=actor.pk, clinic=item.clinic),
        may_claim=claim_decision[scope.CLAIM].allowed,
        from_level=item.service_level,
        to_level=to_level,
    )
    if not decision.allowed:
        raise OutsideScopeOfPractice(decision.reason)


def escalate(*, actor: User, item_id: int, reason: str) -> WorkItem:
    with transaction.atomic():
        item = _locked_item(actor=actor, item_id=item_id)
        _refuse_if_closed(item, done="escalated")
        if item.status not in UNANSWERED:
            raise InvalidTransition("Only open or claimed work can be escalated.")
        return _escalate_locked(item=item, actor=actor, reason=reason)


def escalate_locked_by_sla(*, item: WorkItem) -> WorkItem:
    """The SLA sweep's escalation of an item it holds locked."""
    return _escalate_locked(item=item, actor=None, reason="SLA breached")


def _escalate_locked(*, item: WorkItem, actor: User | None, reason: str) -> WorkItem:
    from_queue, from_user = item.queue, item.claimed_by
    role = NEXT_ROLE_UP[ServiceLevel(item.service_level)]
    if role != item.service_level:
        item.queue, item.service_level = default_queue(clinic=item.clinic, role=role), role
        item.release()
    item.escalation_level += 1
    item.routing_reason = f"escalated to {role}: {reason}"[:500]
    item.save()
    record_event(
        item,
        WorkEvent.Kind.ESCALATED,
        actor=actor,
        from_queue=from_queue,
        from_user=from_user,
        reason=item.routing_reason,
    )
    webhooks.work_item_escalated(item=item, reason=reason)
    return item


def respond(*, actor: User, item_id: int, body: str) -> OutgoingMessage:
    """Answer the patient. The reply is stored as an outgoing message in the outbox the
    portal collects from, and the item is responded, waiting to be closed."""
    if not body or not body.strip():
        raise InvalidTarget("A reply needs text.")
    with transaction.atomic():
        item = _locked_item(actor=actor, item_id=item_id)
        _refuse_if_closed(item, done="answered")
        _check_scope(actor=actor, item=item, action=scope.REPLY)
        if item.status not in UNANSWERED:
            raise InvalidTransition("This item is already answered.")
        if item.claimed_by_id not in (None, actor.pk):
            raise InvalidTransition("Someone else holds this item; ask them or reassign it.")
        reply = inbox_services.send_reply(in_reply_to=item.message, body=body, author=actor)
        from_user = item.claimed_by
        now = timezone.now()
        item.status, item.claimed_by = WorkItem.Status.RESPONDED, actor
        item.claimed_at = item.claimed_at or now
        item.save(update_fields=["status", "claimed_by", "claimed_at", "updated_at"])
        # Whoever answers has read it, even with no page open (the API).
        _mark_first_read(item=item, actor=actor, at=now)
        # Only the first reply counts: after a reopen the clock is not restarted.
        if WorkItem.objects.filter(pk=item.pk, first_response_at__isnull=True).update(
            first_response_at=now,
            first_response_by=actor,
            first_response_role=clinic_settings.membership_role(
                user_id=actor.pk, clinic=item.clinic
            )
            or "",
        ):
            item.first_response_at, item.first_response_by = now, actor
        record_event(
            item, WorkEvent.Kind.RESPONDED, actor=actor, from_queue=item.queue, from_user=from_user
        )
        return reply


def close(*, actor: User, item_id: int, reason: str = "") -> WorkItem:
    with transaction.atomic():
        item = _locked_item(actor=actor, item_id=item_id)
        _refuse_if_closed(item, done="closed again")
        _check_scope(actor=actor, item=item, action=scope.CLOSE)
        if item.acuity == Acuity.EMERGENT and item.status == WorkItem.Status.OPEN:
            raise InvalidTransition("Claim an emergent item before closing it.")
        item.status, item.closed_at = WorkItem.Status.CLOSED, timezone.now()
        item.closed_by = actor
        item.save(update_fields=["status", "closed_at", "closed_by", "updated_at"])
        record_event(item, WorkEvent.Kind.CLOSED, actor=actor, from_queue=item.queue, reason=reason)
        webhooks.work_item_closed(item=item)
        return item


def reopen(*, actor: User, item_id: int, reason: str) -> WorkItem:
    """A closed item back in its queue, open, with a new due time from now: a nurse's or
    physician's decision, with a reason. (A patient writing again reopens it too:
    routing.services.route.)"""
    if not reason or not reason.strip():
        raise InvalidTarget("Reopening needs a reason.")
    with transaction.atomic():
        conversation_id = (
            WorkItem.objects.filter(pk=item_id, clinic__in=clinics_for_user(user=actor))
            .values_list("conversation_id", flat=True)
            .first()
        )
        if conversation_id is None:
            raise Http404("work item not found")
        # Locked in routing's order (the conversation, then its item): one not-closed item
        # per conversation, and no deadlock with a patient's message being routed.
        inbox_services.lock_conversation(conversation_id=conversation_id)
        # decide_reopen below: reopeners are nurses and physicians, and it says so.
        item = _locked_item(actor=actor, item_id=item_id, role_checked_by_caller=True)
        if item.status != WorkItem.Status.CLOSED:
            raise InvalidTransition("This item is not closed.")
        decision = scope.decide_reopen(
            role=clinic_settings.membership_role(user_id=actor.pk, clinic=item.clinic)
        )
        if not decision.allowed:
            raise OutsideScopeOfPractice(decision.reason)
        others = WorkItem.objects.filter(conversation_id=item.conversation_id).exclude(pk=item.pk)
        if others.exclude(status=WorkItem.Status.CLOSED).exists():
            raise InvalidTransition("This conversation has another open item: work on that one.")
        now = timezone.now()
        target = sla.pick_target(
            acuity=item.acuity,
            role=item.service_level,
            rules=clinic_settings.sla_rules(clinic=item.clinic),
        )
        item.release()
        item.closed_at, item.closed_by = None, None
        item.due_at = sla.due_at(
            received_at=now,
            target=target,
            calendar=clinic_settings.business_calendar(clinic=item.clinic),
        )
        item.breached_at = None
        item.save()
        record_event(
            item, WorkEvent.Kind.REOPENED, actor=actor, from_queue=item.queue, reason=reason.strip()
        )
        return item


# Who calls patients back: clinicians, and MAs (they call to schedule). Not clerical,
# billing or admin staff.
CALLERS = frozenset({Role.MA, Role.NURSE, Role.PHYSICIAN})
CALL_BACKDATE_LIMIT = datetime.timedelta(hours=24)
# A time typed from a wall clock may run a little ahead of the server's.
CALL_CLOCK_SLACK = datetime.timedelta(minutes=2)


def record_patient_call(
    *,
    actor: User,
    item_id: int,
    outcome: str,
    called_at: datetime.datetime | None = None,
) -> WorkEvent:
    """Record a call to the patient of an urgent or emergent item and how it went (reached,
    voicemail, no answer). `called_at` dates a call entered after it was made, up to 24
    hours back (a time without a zone is the clinic's wall clock); the event's time is the
    call's."""
    now = timezone.now()
    with transaction.atomic():
        # CALLERS below is narrower than the roles that work messages, and says who calls.
        item = _locked_item(actor=actor, item_id=item_id, role_checked_by_caller=True)
        role = clinic_settings.membership_role(user_id=actor.pk, clinic=item.clinic)
        if role not in CALLERS:
            raise PatientCallNotPermitted(
                "Calls to patients are recorded by MAs, nurses and physicians."
            )
        if item.status == WorkItem.Status.CLOSED:
            raise InvalidTransition("This item is closed; record the call on an open item.")
        if item.acuity not in (Acuity.URGENT, Acuity.EMERGENT):
            raise PatientCallRefused("Calls are recorded on urgent and emergent items only.")
        if outcome not in WorkEvent.CallOutcome.values:
            raise PatientCallRefused("Choose how the call went: reached, voicemail or no answer.")
        reason = ""
        if called_at is not None:
            if timezone.is_naive(called_at):
                called_at = timezone.make_aware(called_at, ZoneInfo(item.clinic.time_zone))
            if called_at > now + CALL_CLOCK_SLACK:
                raise PatientCallRefused("The time of the call is later than now.")
            if called_at < now - CALL_BACKDATE_LIMIT:
                raise PatientCallRefused("Record a call within 24 hours of making it.")
            called_at = min(called_at, now)
            if now - called_at > CALL_CLOCK_SLACK:
                # The history shows the call's time; keep when it was entered as well.
                entered = timezone.localtime(now, ZoneInfo(item.clinic.time_zone))
                reason = f"entered {entered:%d %b %H:%M}"
        return record_event(
            item,
            WorkEvent.Kind.CALLED_PATIENT,
            actor=actor,
            from_queue=item.queue,
            to_queue=None,  # nothing moved: the history shows no "→ queue" for a call
            to_user=None,
            call_outcome=outcome,
            reason=reason,
            at=called_at,
        )
