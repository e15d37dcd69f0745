"""Writes of the routing app: route a classified message, and every work-item transition.

Each function runs in one transaction, locks the rows it changes and re-checks their
state under the lock, so a task delivered twice or two people clicking at once leave
one consistent result. Every transition writes a WorkEvent.
"""

import datetime
import logging
from collections.abc import Iterable
from dataclasses import replace
from functools import partial

from django.db import InterfaceError, OperationalError, transaction
from django.http import Http404
from django.utils import timezone

from accounts.models import Clinic, User
from accounts.selectors import clinics_for_user
from routing import notifications, replay, rules, selectors, sla
from routing.exceptions import InvalidTarget, InvalidTransition
from routing.models import Notification, Queue, RuleReplay, WorkEvent, WorkItem
from triage.labels import ACUITY_RANK, SERVICE_LEVEL_RANK, Acuity, ServiceLevel
from triage.models import (
    Classification,
    Conversation,
    LabelCorrection,
    Message,
    OutgoingMessage,
)
from triage.services import record_patient_data_accesses

logger = logging.getLogger(__name__)

DEFAULT_QUEUE_NAMES = {
    ServiceLevel.CLERICAL: "Clerical pool",
    ServiceLevel.MA: "Medical assistant pool",
    ServiceLevel.NURSE: "Nurse triage",
    ServiceLevel.PHYSICIAN: "Physician",
}
# Escalation moves work to the next more trained role (domain.md: "escalate to the
# charge nurse / next role"); a physician item stays and raises its escalation level.
NEXT_ROLE_UP = {
    ServiceLevel.CLERICAL: ServiceLevel.NURSE,
    ServiceLevel.MA: ServiceLevel.NURSE,
    ServiceLevel.NURSE: ServiceLevel.PHYSICIAN,
    ServiceLevel.PHYSICIAN: ServiceLevel.PHYSICIAN,
}
EMERGENCY_TEMPLATE = "emergency"
UNANSWERED = (WorkItem.Status.OPEN, WorkItem.Status.CLAIMED)


def ensure_default_queues(*, clinic: Clinic) -> dict[str, Queue]:
    queues = {}
    for role, name in DEFAULT_QUEUE_NAMES.items():
        queues[role], _ = Queue.objects.get_or_create(
            clinic=clinic, role=role, is_role_default=True, defaults={"name": name}
        )
    return queues


def default_queue(*, clinic: Clinic, role: str) -> Queue:
    queue = Queue.objects.filter(clinic=clinic, role=role, is_role_default=True).first()
    return queue or ensure_default_queues(clinic=clinic)[role]


# --- routing ---------------------------------------------------------------------------


def message_facts(
    *, message: Message, classification: Classification, clinic: Clinic
) -> rules.MessageFacts:
    patient = message.conversation.patient
    return rules.facts_for(
        subject=message.subject,
        body=message.body,
        category=message.category,
        language=patient.preferred_language,
        on_chemotherapy=patient.on_chemotherapy,
        received_at=message.created_at,
        time_zone=clinic.time_zone,
        acuity=classification.acuity,
        service_level=classification.routing_service_level,
        acuity_confidence=classification.acuity_confidence,
        service_level_confidence=classification.service_level_confidence,
        evisit_confidence=classification.evisit_confidence,
        needs_review=classification.needs_review or classification.unclassified,
        red_flags=[flag["name"] for flag in classification.red_flags],
    )


def decide(*, message: Message, classification: Classification, clinic: Clinic):
    """The routing decision and due time for one classified message (reads only)."""
    facts = message_facts(message=message, classification=classification, clinic=clinic)
    decision = rules.evaluate(
        selectors.routing_rules(clinic=clinic),
        facts,
        queue_roles=selectors.queue_roles(clinic=clinic),
    )
    if classification.unclassified:
        decision = _with_reason(decision, "classifier failed: nurse triage as urgent")
    target = sla.pick_target(
        acuity=decision.acuity, role=decision.role, rules=selectors.sla_rules(clinic=clinic)
    )
    due_at = sla.due_at(
        received_at=message.created_at,
        target=target,
        calendar=selectors.business_calendar(clinic=clinic),
    )
    return decision, target, due_at


def _with_reason(decision: rules.RoutingDecision, reason: str) -> rules.RoutingDecision:
    return replace(decision, reasons=(*decision.reasons, reason))


def route(*, message_id: int) -> WorkItem | None:
    """Put a classified message into its conversation's work item. Safe to run twice:
    the message status is re-checked under a row lock, and the conversation lock plus
    the one-open-item-per-conversation constraint keep a thread to a single open item."""
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",))
            .select_related("conversation__patient")
            .get(pk=message_id)
        )
        if message.status == Message.Status.ROUTED:
            return _latest_item(message.conversation_id)
        if message.status != Message.Status.CLASSIFIED:
            logger.warning("message %s is not classified yet; not routed", message.pk)
            return None
        # Serializes routing per thread: two messages of one conversation never both
        # create an open item.
        Conversation.objects.select_for_update().get(pk=message.conversation_id)
        classification = Classification.objects.get(message=message)
        clinic = Clinic.objects.get(pk=message.clinic_id)
        decision, target, due_at = decide(
            message=message, classification=classification, clinic=clinic
        )
        queue = (
            Queue.objects.get(pk=decision.queue_id, clinic=clinic)
            if decision.queue_id
            else default_queue(clinic=clinic, role=decision.role)
        )
        record = {
            "rule_id": decision.rule_id,
            "rule_name": decision.rule_name,
            "reasons": list(decision.reasons),
            "role": decision.role,
            "acuity": decision.acuity,
            "classified_acuity": classification.acuity,
            "sla": target.describe(),
            "message_id": message.pk,
        }

        item = _latest_item(message.conversation_id, lock=True)
        if item is None:
            item = WorkItem.objects.create(
                clinic=clinic,
                conversation_id=message.conversation_id,
                message=message,
                queue=queue,
                acuity=decision.acuity,
                acuity_rank=ACUITY_RANK[Acuity(decision.acuity)],
                service_level=decision.role,
                due_at=due_at,
                routing_reason=decision.reason[:500],
                matched_rule_id=decision.rule_id,
                routing_decision=record,
            )
            WorkEvent.objects.create(
                work_item=item,
                kind=WorkEvent.Kind.ROUTED,
                message=message,
                to_queue=queue,
                reason=item.routing_reason,
            )
            _assign_by_rule(item=item, decision=decision)
        elif item.status == WorkItem.Status.CLOSED:
            _reopen(
                item=item,
                message=message,
                queue=queue,
                decision=decision,
                due_at=due_at,
                record=record,
            )
            _assign_by_rule(item=item, decision=decision)
        else:
            _add_message_to_open_item(
                item=item, message=message, decision=decision, due_at=due_at, record=record
            )

        _side_effects(item=item, message=message, decision=decision, clinic=clinic)
        message.status = Message.Status.ROUTED
        message.status_changed_at = timezone.now()
        message.save(update_fields=["status", "status_changed_at", "updated_at"])
        return item


def _latest_item(conversation_id: int, *, lock: bool = False) -> WorkItem | None:
    items = WorkItem.objects.filter(conversation_id=conversation_id)
    if lock:
        items = items.select_for_update()
    unanswered = items.exclude(status=WorkItem.Status.CLOSED).first()
    return unanswered or items.order_by("-closed_at", "-id").first()


def _reopen(*, item, message, queue, decision, due_at, record) -> None:
    from_queue = item.queue
    item.message = message
    item.queue = queue
    item.release()
    item.closed_at = None
    item.acuity, item.acuity_rank = decision.acuity, ACUITY_RANK[Acuity(decision.acuity)]
    item.service_level = decision.role
    item.due_at, item.breached_at, item.escalation_level = due_at, None, 0
    item.routing_reason = f"patient replied: {decision.reason}"[:500]
    item.matched_rule_id, item.routing_decision = decision.rule_id, record
    item.save()
    WorkEvent.objects.create(
        work_item=item,
        kind=WorkEvent.Kind.REOPENED,
        message=message,
        from_queue=from_queue,
        to_queue=queue,
        reason=item.routing_reason,
    )


def _add_message_to_open_item(*, item, message, decision, due_at, record) -> None:
    # A follow-up in an open thread can only make the item more urgent or move it up to a
    # more trained role, never the other way: "fever now" must not stay in the clerk pool.
    reason = f"new message {message.pk} in the conversation"
    kind = WorkEvent.Kind.MESSAGE_ADDED
    rank = ACUITY_RANK[Acuity(decision.acuity)]
    if rank < item.acuity_rank:
        item.acuity, item.acuity_rank = decision.acuity, rank
        reason += f"; acuity raised to {decision.acuity}"
    item.due_at = min(item.due_at, due_at)
    if item.status == WorkItem.Status.RESPONDED:
        # The patient wrote back after our answer: the item is open work again.
        item.release()
        kind = WorkEvent.Kind.REOPENED
        reason = f"patient replied after the answer; {reason}"
    from_queue, from_user = item.queue, item.claimed_by
    needs_higher_role = SERVICE_LEVEL_RANK.get(decision.role, 0) > SERVICE_LEVEL_RANK.get(
        item.service_level, 0
    )
    if needs_higher_role:
        item.service_level = decision.role
        item.queue = default_queue(clinic=item.clinic, role=decision.role)
        item.release()
        reason += f"; needs {decision.role}"
        kind = WorkEvent.Kind.REASSIGNED
    item.routing_reason = reason[:500]
    item.routing_decision = record
    item.save()
    WorkEvent.objects.create(
        work_item=item,
        kind=kind,
        message=message,
        from_queue=from_queue,
        to_queue=item.queue,
        from_user=from_user,
        to_user=item.claimed_by,
        reason=reason[:500],
    )


def _assign_by_rule(*, item: WorkItem, decision: rules.RoutingDecision) -> None:
    if decision.assignee_id is None:
        return
    person, reason = resolve_person(
        user_id=decision.assignee_id, clinic=item.clinic, at=timezone.now()
    )
    if person is not None:
        item.hold_for(person, timezone.now())
        item.save(update_fields=["status", "claimed_by", "claimed_at", "updated_at"])
    WorkEvent.objects.create(
        work_item=item,
        kind=WorkEvent.Kind.ASSIGNED,
        to_queue=item.queue,
        to_user=person,
        reason=f"{decision.rule_name}: {reason}"[:500],
    )


def resolve_person(
    *, user_id: int, clinic: Clinic, at: datetime.datetime
) -> tuple[User | None, str]:
    """Who actually gets work meant for this person: them, their cover while they are
    out of office, or nobody (the role pool), with the reason."""
    if selectors.membership_role(user_id=user_id, clinic=clinic) is None:
        return None, f"user {user_id} is not staff of this clinic: left in the pool"
    user = User.objects.get(pk=user_id)
    absence = selectors.current_absence(user_id=user_id, at=at)
    if absence is None:
        return user, f"assigned to {user.get_username()}"
    cover = absence.covering_user
    if (
        cover is not None
        and selectors.membership_role(user_id=cover.pk, clinic=clinic) is not None
        and selectors.current_absence(user_id=cover.pk, at=at) is None
    ):
        return cover, f"{user.get_username()} out of office: covered by {cover.get_username()}"
    return None, f"{user.get_username()} out of office: back to the role pool"


def _side_effects(*, item, message, decision, clinic) -> None:
    if decision.acuity == Acuity.EMERGENT:
        send_auto_reply(message=message, clinic=clinic, template=EMERGENCY_TEMPLATE)
        alert_on_call(item=item, window=0)
    if decision.auto_reply and decision.auto_reply != EMERGENCY_TEMPLATE:
        try:
            send_auto_reply(message=message, clinic=clinic, template=decision.auto_reply)
        except LookupError:
            logger.warning("rule %s names a missing auto-reply template", decision.rule_id)
    if decision.notify_user_ids:
        users = User.objects.filter(
            pk__in=decision.notify_user_ids, memberships__clinic=clinic
        ).exclude(email="")
        notifications.notify_once(
            item=item,
            kind=Notification.Kind.RULE_NOTICE,
            window=message.pk,
            recipients=[notifications.Recipient("email", u.email, u) for u in users],
            subject=f"[{clinic.name}] {decision.acuity} message: {decision.rule_name}",
            body=f"Work item {item.pk} is in {item.queue.name}. {decision.reason}",
        )


def send_auto_reply(*, message: Message, clinic: Clinic, template: str) -> OutgoingMessage:
    """The automatic reply to one patient message, once per template (unique key)."""
    language, text = selectors.auto_reply_text(
        clinic=clinic, name=template, language=message.conversation.patient.preferred_language
    )
    reply, _ = OutgoingMessage.objects.get_or_create(
        in_reply_to=message,
        template=template,
        kind=OutgoingMessage.Kind.AUTO_REPLY,
        defaults={
            "clinic": clinic,
            "conversation_id": message.conversation_id,
            "language": language,
            "body": text,
        },
    )
    return reply


def alert_on_call(*, item: WorkItem, window: int) -> list[Notification]:
    now = timezone.now()
    recipients = notifications.on_call_recipients(item=item, at=now)
    created = notifications.notify_once(
        item=item,
        kind=Notification.Kind.ON_CALL_ALERT,
        window=window,
        recipients=recipients,
        subject=f"[{item.clinic.name}] EMERGENT patient message"
        + (f" unclaimed, alert {window + 1}" if window else ""),
        body=(
            f"An emergent portal message is waiting in {item.queue.name} (work item "
            f"{item.pk}), due {item.due_at:%H:%M %Z}. Claim it and call the patient."
        ),
    )
    if created:
        WorkEvent.objects.create(
            work_item=item,
            kind=WorkEvent.Kind.ALERTED,
            reason=f"on-call alert {window + 1} to " + ", ".join(n.recipient for n in created),
        )
    return created


# --- work item transitions ---------------------------------------------------------------


def _locked_item(*, actor: User, item_id: int) -> WorkItem:
    """The item, locked, if the actor works in its clinic; else 404 (never confirm an
    item of another clinic exists)."""
    item = (
        WorkItem.objects.select_for_update(of=("self",))
        .select_related("queue", "clinic")
        .filter(pk=item_id, clinic__in=clinics_for_user(user=actor))
        .first()
    )
    if item is None:
        raise Http404("work item not found")
    return item


def _event(item, kind, *, actor=None, from_queue=None, from_user=None, reason="") -> WorkEvent:
    return WorkEvent.objects.create(
        work_item=item,
        kind=kind,
        actor=actor,
        from_queue=from_queue,
        to_queue=item.queue,
        from_user=from_user,
        to_user=item.claimed_by,
        reason=reason[:500],
    )


def claim(*, actor: User, item_id: int) -> WorkItem:
    """Take one open item. A conditional update decides: of two people claiming at once,
    exactly one succeeds and the other gets InvalidTransition."""
    now = timezone.now()
    with transaction.atomic():
        visible = WorkItem.objects.filter(pk=item_id, clinic__in=clinics_for_user(user=actor))
        taken = visible.filter(status=WorkItem.Status.OPEN, claimed_by__isnull=True).update(
            status=WorkItem.Status.CLAIMED, claimed_by=actor, claimed_at=now, updated_at=now
        )
        if not taken:
            if not visible.exists():
                raise Http404("work item not found")
            raise InvalidTransition("This item is no longer open: someone else has it.")
        item = WorkItem.objects.select_related("queue").get(pk=item_id)
        _event(item, WorkEvent.Kind.CLAIMED, actor=actor, from_queue=item.queue)
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
            .order_by("acuity_rank", "due_at", "id")
            .first()
        )
        if item is None:
            return None
        now = timezone.now()
        item.hold_for(actor, now)
        item.save(update_fields=["status", "claimed_by", "claimed_at", "updated_at"])
        _event(item, WorkEvent.Kind.CLAIMED, actor=actor, from_queue=item.queue, reason="next item")
        return item


def return_to_queue(*, actor: User, item_id: int, reason: str = "") -> WorkItem:
    with transaction.atomic():
        item = _locked_item(actor=actor, item_id=item_id)
        if item.status != WorkItem.Status.CLAIMED:
            raise InvalidTransition("Only a claimed item can be returned to its queue.")
        from_user = item.claimed_by
        item.release()
        item.save(update_fields=["status", "claimed_by", "claimed_at", "updated_at"])
        _event(
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
            person_role = selectors.membership_role(user_id=person_id, clinic=item.clinic)
            if person_role not in ServiceLevel.values:
                raise InvalidTarget("Assign work to clinical staff of this clinic.")
            person, why = resolve_person(user_id=person_id, clinic=item.clinic, at=timezone.now())
            reason = f"{reason} ({why})"
            # The person works from their role's queue; an absent person's work goes to it.
            queue = (
                item.queue
                if item.queue.role == person_role
                else default_queue(clinic=item.clinic, role=person_role)
            )
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
        _event(
            item,
            WorkEvent.Kind.REASSIGNED,
            actor=actor,
            from_queue=from_queue,
            from_user=from_user,
            reason=reason,
        )
        if item.service_level != from_role:
            LabelCorrection.objects.create(
                message=item.message,
                label="service_level",
                from_value=from_role,
                to_value=item.service_level,
                corrected_by=actor,
                reason=reason[:500],
            )
        return item


def escalate(*, actor: User, item_id: int, reason: str) -> WorkItem:
    with transaction.atomic():
        item = _locked_item(actor=actor, item_id=item_id)
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
    _event(
        item,
        WorkEvent.Kind.ESCALATED,
        actor=actor,
        from_queue=from_queue,
        from_user=from_user,
        reason=item.routing_reason,
    )
    return item


def respond(*, actor: User, item_id: int, body: str) -> OutgoingMessage:
    """Answer the patient. The reply is stored as an outgoing message in the outbox the
    portal collects from, and the item is responded, waiting to be closed."""
    if not body or not body.strip():
        raise InvalidTarget("A reply needs text.")
    with transaction.atomic():
        item = _locked_item(actor=actor, item_id=item_id)
        if item.status not in UNANSWERED:
            raise InvalidTransition("This item is already answered.")
        if item.claimed_by_id not in (None, actor.pk):
            raise InvalidTransition("Someone else holds this item; ask them or reassign it.")
        reply = OutgoingMessage.objects.create(
            clinic=item.clinic,
            conversation_id=item.conversation_id,
            in_reply_to=item.message,
            kind=OutgoingMessage.Kind.STAFF_REPLY,
            body=body,
            author=actor,
        )
        from_user = item.claimed_by
        item.status, item.claimed_by = WorkItem.Status.RESPONDED, actor
        item.claimed_at = item.claimed_at or timezone.now()
        item.save(update_fields=["status", "claimed_by", "claimed_at", "updated_at"])
        _event(
            item, WorkEvent.Kind.RESPONDED, actor=actor, from_queue=item.queue, from_user=from_user
        )
        return reply


def close(*, actor: User, item_id: int, reason: str = "") -> WorkItem:
    with transaction.atomic():
        item = _locked_item(actor=actor, item_id=item_id)
        if item.status == WorkItem.Status.CLOSED:
            raise InvalidTransition("This item is already closed.")
        if item.acuity == Acuity.EMERGENT and item.status == WorkItem.Status.OPEN:
            raise InvalidTransition("Claim an emergent item before closing it.")
        item.status, item.closed_at = WorkItem.Status.CLOSED, timezone.now()
        item.save(update_fields=["status", "closed_at", "updated_at"])
        _event(item, WorkEvent.Kind.CLOSED, actor=actor, from_queue=item.queue, reason=reason)
        return item


# --- coverage ------------------------------------------------------------------------------


def apply_coverage(*, now: datetime.datetime | None = None) -> int:
    """Move work held by people who are out of office now to their cover, or back to
    the role pool. Idempotent: moved work is no longer held by the absent person."""
    from accounts.models import Absence

    now = now or timezone.now()
    moved = 0
    absent_ids = Absence.objects.filter(starts_at__lte=now, ends_at__gt=now).values("user_id")
    held = WorkItem.objects.filter(status=WorkItem.Status.CLAIMED, claimed_by__in=absent_ids)
    for item_id in held.values_list("pk", flat=True):
        with transaction.atomic():
            item = (
                WorkItem.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("claimed_by", "clinic", "queue")
                .filter(pk=item_id, status=WorkItem.Status.CLAIMED)
                .first()
            )
            if item is None or item.claimed_by is None:
                continue
            from_user = item.claimed_by
            person, reason = resolve_person(user_id=from_user.pk, clinic=item.clinic, at=now)
            if person == from_user:
                continue  # back already
            if person is not None:
                item.hold_for(person, now)
            else:
                item.release()
            item.save(update_fields=["status", "claimed_by", "claimed_at", "updated_at"])
            _event(
                item,
                WorkEvent.Kind.COVERED,
                from_queue=item.queue,
                from_user=from_user,
                reason=reason,
            )
            moved += 1
    return moved


def record_work_items_shown(*, user: User, items: Iterable[WorkItem], what: str) -> None:
    """Access log of one page of a queue (staff screen or API): one row per patient on
    the page, pointing at their first work item there. Items need conversation__patient
    loaded."""
    record_patient_data_accesses(
        user=user, what=what, shown=[(item.conversation.patient, item.pk) for item in items]
    )


# --- replaying a rule edit over past messages -------------------------------------------

REPLAY_CHUNK = 1000


def request_rule_replay(
    *, actor: User, clinic: Clinic, edited: rules.Rule, days: int
) -> RuleReplay:
    """Ask a worker (slow queue) what `edited` would change over the clinic's messages
    of the last `days` days. `edited.id` is the saved rule it replaces, None for a new
    rule; the edit is validated by the caller (RoutingRule.clean)."""
    now = timezone.now()
    replay_request = RuleReplay.objects.create(
        clinic=clinic,
        requested_by=actor,
        rule_id=edited.id,
        proposed_rule={
            "name": edited.name,
            "order": edited.order,
            "enabled": edited.enabled,
            "conditions": dict(edited.conditions),
            "action": dict(edited.action),
        },
        days=days,
        since=now - datetime.timedelta(days=days),
    )
    transaction.on_commit(partial(_enqueue_replay, replay_request.pk), robust=True)
    return replay_request


def _enqueue_replay(replay_id: int) -> None:
    from routing.tasks import replay_routing_rules

    replay_routing_rules.delay(replay_id)


def run_rule_replay(*, replay_id: int) -> RuleReplay | None:
    """Compute a requested replay. Safe to run twice: a finished one is left alone, and
    the work only reads, so a run cut short by a dead worker is simply done again."""
    with transaction.atomic():
        request = (
            RuleReplay.objects.select_for_update(of=("self",))
            .select_related("clinic")
            .filter(pk=replay_id)
            .first()
        )
        if request is None or request.is_finished:
            return request
        messages = selectors.routed_messages_since(clinic=request.clinic, since=request.since)
        request.status = RuleReplay.Status.RUNNING
        request.started_at = timezone.now()
        request.total = messages.count()
        request.processed = 0
        request.save(update_fields=["status", "started_at", "total", "processed"])
    try:
        report = _replay_report(request, messages)
    except (OperationalError, InterfaceError):
        raise  # the database went away: the task retries
    except Exception:
        # No message text in the error: the report page is seen by administrators.
        logger.exception("rule replay %s failed", request.pk)
        request.status = RuleReplay.Status.FAILED
        request.error = "The replay failed; the error is in the worker's log."
        request.finished_at = timezone.now()
        request.save(update_fields=["status", "error", "finished_at"])
        return request
    request.report = report
    request.status = RuleReplay.Status.DONE
    request.finished_at = timezone.now()
    request.save(update_fields=["report", "status", "processed", "finished_at"])
    return request


def _replay_report(request: RuleReplay, messages) -> dict:
    clinic = request.clinic
    # proposed_rule holds exactly the Rule fields but the id (request_rule_replay).
    edited = rules.Rule(id=request.rule_id, **request.proposed_rule)
    current = selectors.routing_rules(clinic=clinic)
    roles = selectors.queue_roles(clinic=clinic)
    defaults = selectors.default_queue_ids(clinic=clinic)
    report = replay.ReplayReport()
    after_pk = 0
    while True:
        chunk = list(messages.filter(pk__gt=after_pk)[:REPLAY_CHUNK])
        if not chunk:
            break
        after_pk = chunk[-1].pk
        items = selectors.latest_item_ids(conversation_ids={m.conversation_id for m in chunk})
        replay.replay(
            (
                replay.PastMessage(
                    message_id=message.pk,
                    work_item_id=items.get(message.conversation_id),
                    facts=message_facts(
                        message=message, classification=message.classification, clinic=clinic
                    ),
                )
                for message in chunk
            ),
            current=current,
            edited=edited,
            queue_roles=roles,
            default_queues=defaults,
            report=report,
        )
        request.processed = report.messages
        RuleReplay.objects.filter(pk=request.pk).update(processed=report.messages)
    names = selectors.queue_names(clinic=clinic)
    return replay_report_as_json(report, queue_names=names)


CHANGE_NAMES = {
    "queue": "queue",
    "acuity": "acuity",
    "assignee": "assigned person",
    "notify": "notified staff",
    "auto_reply": "automatic reply",
}


def replay_report_as_json(report: replay.ReplayReport, *, queue_names: dict[int, str]) -> dict:
    def name(queue_id):
        return queue_names.get(queue_id, f"queue {queue_id}")

    return {
        "messages": report.messages,
        "moved": report.moved,
        "matched_before": report.matched_before,
        "matched_after": report.matched_after,
        "by_change": {CHANGE_NAMES[k]: n for k, n in report.by_change.most_common()},
        "queue_moves": [
            {"from": name(before), "to": name(after), "messages": count}
            for (before, after), count in report.queue_moves.most_common()
        ],
        "acuity_moves": [
            {"from": before, "to": after, "messages": count}
            for (before, after), count in report.acuity_moves.most_common()
        ],
        "examples": [
            {
                "message_id": move.message_id,
                "work_item_id": move.work_item_id,
                "changes": [CHANGE_NAMES[k] for k in move.changes],
                "from_queue": name(move.before.queue_id),
                "to_queue": name(move.after.queue_id),
                "from_acuity": move.before.acuity,
                "to_acuity": move.after.acuity,
                "why": move.why,
            }
            for move in report.examples
        ],
        "example_limit": replay.EXAMPLE_LIMIT,
    }
