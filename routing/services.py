"""Routing a classified message: the decision (rules, SLA) and where it lands, the work
item it opens or updates, and what that sets off (automatic replies, alerts, notices).

route() runs in one transaction, locks the message and its conversation and re-checks
the message's status under the lock, so a task delivered twice leaves one result. The
message's own rows are written through inbox.services.
"""

import logging
from collections import Counter
from dataclasses import replace
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Case, Exists, F, OuterRef, Value, When
from django.utils import timezone

from accounts.models import Clinic, User
from inbox import services as inbox_services
from inbox.models import Message, OutgoingMessage
from routing import clinic_settings, notifications, pending_return, rules, sla, webhooks
from routing.coverage import resolve_person
from routing.events import new_event, record_event
from routing.facts import message_facts
from routing.models import Notification, Queue, WorkEvent, WorkItem
from triage.ml.labels import ACUITY_RANK, SERVICE_LEVEL_RANK, Acuity, ServiceLevel
from triage.models import Classification

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
AFTER_HOURS_TEMPLATE = "after_hours"
UNANSWERED = (WorkItem.Status.OPEN, WorkItem.Status.CLAIMED)


def ensure_default_queues(*, clinic: Clinic) -> dict[str, Queue]:
    queues = {}
    for role, name in DEFAULT_QUEUE_NAMES.items():
        queues[role], _ = Queue.objects.get_or_create(
            clinic=clinic, role=role, is_role_default=True, defaults={"name": name}
        )
    return queues


def default_queue(*, clinic: Clinic, role: str) -> Queue:
    queue = clinic_settings.role_default_queue(clinic=clinic, role=role)
    return queue or ensure_default_queues(clinic=clinic)[role]


# --- routing ---------------------------------------------------------------------------


def decide(*, message: Message, classification: Classification, clinic: Clinic):
    """The routing decision and due time for one classified message (reads only)."""
    facts = message_facts(
        message=message, classification=classification, time_zone=clinic.time_zone
    )
    decision = rules.evaluate(
        clinic_settings.routing_rules(clinic=clinic),
        facts,
        queue_roles=clinic_settings.queue_roles(clinic=clinic),
    )
    if classification.unclassified:
        decision = _with_reason(decision, "classifier failed: nurse triage as urgent")
    target = sla.pick_target(
        acuity=decision.acuity, role=decision.role, rules=clinic_settings.sla_rules(clinic=clinic)
    )
    due_at = sla.due_at(
        received_at=message.created_at,
        target=target,
        calendar=clinic_settings.business_calendar(clinic=clinic),
    )
    return decision, target, due_at


def _with_reason(decision: rules.RoutingDecision, reason: str) -> rules.RoutingDecision:
    return replace(decision, reasons=(*decision.reasons, reason))


def route(*, message_id: int) -> WorkItem | None:
    """Put a classified message into its conversation's work item. Safe to run twice:
    the message status is re-checked under a row lock, and the conversation lock plus
    the one-open-item-per-conversation constraint keep a thread to a single open item."""
    with transaction.atomic():
        message = inbox_services.lock_message(message_id=message_id)
        classification = Classification.objects.filter(message=message).first()
        return route_classified(message=message, classification=classification)


def route_classified(
    *,
    message: Message,
    classification: Classification | None,
    conversation_locked: bool = False,
) -> WorkItem | None:
    """route() inside the caller's transaction, which holds the message's row lock
    (inbox.services.lock_message, or the classification just made under it): the
    pipeline classifies and routes a message in one transaction, without reading it
    again. `message` comes with its conversation, patient and clinic.
    `conversation_locked`: the caller holds the conversation's lock too."""
    if message.status == Message.Status.ROUTED:
        return _latest_item(message.conversation_id)
    if message.status != Message.Status.CLASSIFIED or classification is None:
        logger.warning("message %s is not classified yet; not routed", message.pk)
        return None
    # Serializes routing per thread: two messages of one conversation never both create
    # an open item.
    if not conversation_locked:
        inbox_services.lock_conversation(conversation_id=message.conversation_id)
    clinic = message.clinic
    decision, target, due_at = decide(message=message, classification=classification, clinic=clinic)
    queue = _decided_queue(clinic=clinic, decision=decision)
    record = _decision_record(
        message=message, classification=classification, decision=decision, target=target
    )

    item = _latest_item(message.conversation_id, lock=True)
    if item is not None:
        # The clinic and queue this worker holds already, rather than a read of each.
        item.clinic = clinic
        item.queue = (
            clinic_settings.configuration(clinic=clinic).queues.get(item.queue_id) or item.queue
        )
    if item is None:
        item = _new_item(
            message=message,
            classification=classification,
            decision=decision,
            target=target,
            due_at=due_at,
        )
        item.save(force_insert=True)
        record_event(item, WorkEvent.Kind.ROUTED, message=message, reason=item.routing_reason)
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
    inbox_services.mark_routed(message=message)
    webhooks.message_routed(item=item, message=message)
    return item


def route_classified_many(*, classifications: list[Classification]) -> None:
    """route_classified for messages whose locks the caller holds (a burst's chunk, or a
    worker's batch of the messages waiting), each conversation's in the order they
    arrived. A message that starts a conversation alone in the
    chunk and sets nothing else off (no automatic reply, alert, rule assignment or
    notice: a routine message, or an urgent one in business hours) has its item, its
    event and its status written together with the others like it; every other message
    goes through route_classified as it would on its own. The decisions are the same
    either way (decide)."""
    # A conversation's messages in the order they arrived: a follow-up routed before the
    # message it follows would open the thread's item on the wrong message.
    classifications = sorted(classifications, key=lambda c: c.message_id)
    messages = [c.message for c in classifications]
    conversation_ids = sorted({m.conversation_id for m in messages})
    with_items = inbox_services.lock_conversations(
        conversation_ids=conversation_ids,
        noting=Exists(WorkItem.objects.filter(conversation_id=OuterRef("pk"))),
    )
    in_chunk = Counter(m.conversation_id for m in messages)
    together, one_by_one = [], []
    for classification in classifications:
        message = classification.message
        alone_and_new = (
            message.status == Message.Status.CLASSIFIED
            and in_chunk[message.conversation_id] == 1
            and message.conversation_id not in with_items
        )
        decided = alone_and_new and decide(
            message=message, classification=classification, clinic=message.clinic
        )
        if decided and not _sets_anything_off(*decided, message=message):
            together.append((classification, *decided))
        else:
            one_by_one.append(classification)
    items = WorkItem.objects.bulk_create(
        _new_item(
            message=classification.message,
            classification=classification,
            decision=decision,
            target=target,
            due_at=due_at,
        )
        for classification, decision, target, due_at in together
    )
    WorkEvent.objects.bulk_create(
        new_event(item, WorkEvent.Kind.ROUTED, message=item.message, reason=item.routing_reason)
        for item in items
    )
    inbox_services.mark_routed_many(messages=[item.message for item in items])
    for item in items:
        webhooks.message_routed(item=item, message=item.message)
    for classification in one_by_one:
        route_classified(
            message=classification.message,
            classification=classification,
            conversation_locked=True,
        )


def _sets_anything_off(decision, target, due_at, *, message: Message) -> bool:
    """Whether routing this message does more than open its item (_side_effects,
    _assign_by_rule)."""
    if decision.acuity == Acuity.EMERGENT or decision.auto_reply:
        return True
    if decision.notify_user_ids or decision.assignee_id is not None:
        return True
    calendar = clinic_settings.business_calendar(clinic=message.clinic)
    return decision.acuity == Acuity.URGENT and sla.is_after_hours(calendar, message.created_at)


def _new_item(*, message, classification, decision, target, due_at) -> WorkItem:
    """A new conversation's work item as routing opens it, not yet saved."""
    clinic = message.clinic
    return WorkItem(
        clinic=clinic,
        conversation_id=message.conversation_id,
        message=message,
        queue=_decided_queue(clinic=clinic, decision=decision),
        acuity=decision.acuity,
        acuity_rank=ACUITY_RANK[Acuity(decision.acuity)],
        service_level=decision.role,
        due_at=due_at,
        routing_reason=decision.reason[:500],
        matched_rule_id=decision.rule_id,
        routing_decision=_decision_record(
            message=message, classification=classification, decision=decision, target=target
        ),
    )


def _decision_record(*, message, classification, decision, target) -> dict:
    return {
        "rule_id": decision.rule_id,
        "rule_name": decision.rule_name,
        "reasons": list(decision.reasons),
        "role": decision.role,
        "acuity": decision.acuity,
        "classified_acuity": classification.acuity,
        "sla": target.describe(),
        "message_id": message.pk,
    }


def _latest_item(conversation_id: int, *, lock: bool = False) -> WorkItem | None:
    """The conversation's unanswered item (at most one, by constraint), else the one
    closed last: one statement."""
    items = WorkItem.objects.filter(conversation_id=conversation_id).order_by(
        Case(When(status=WorkItem.Status.CLOSED, then=Value(1)), default=Value(0)),
        F("closed_at").desc(nulls_last=True),
        "-id",
    )
    if lock:
        items = items.select_for_update(of=("self",))
    # Not select_related("claimed_by"): most messages start a conversation and find no
    # item, and compiling the join cost more than reading the holder of the few held ones.
    return items.first()


def _decided_queue(*, clinic: Clinic, decision: rules.RoutingDecision) -> Queue:
    if decision.queue_id:
        return _rule_queue(clinic=clinic, queue_id=decision.queue_id)
    return default_queue(clinic=clinic, role=decision.role)


def _rule_queue(*, clinic: Clinic, queue_id: int) -> Queue:
    """The queue a rule names (rules.evaluate checked it is this clinic's)."""
    queue = clinic_settings.configuration(clinic=clinic).queues.get(queue_id)
    return queue or Queue.objects.get(pk=queue_id, clinic=clinic)


def _reopen(*, item, message, queue, decision, due_at, record) -> None:
    from_queue = item.queue
    item.message = message
    item.queue = queue
    item.release()
    item.closed_at, item.closed_by = None, None
    item.acuity, item.acuity_rank = decision.acuity, ACUITY_RANK[Acuity(decision.acuity)]
    item.service_level = decision.role
    item.due_at, item.breached_at, item.escalation_level = due_at, None, 0
    # A new episode: the old acknowledgement answered an earlier message.
    item.after_hours_acknowledged_at = None
    item.routing_reason = f"patient replied: {decision.reason}"[:500]
    item.matched_rule_id, item.routing_decision = decision.rule_id, record
    item.save()
    record_event(
        item,
        WorkEvent.Kind.REOPENED,
        message=message,
        from_queue=from_queue,
        to_user=None,
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
    pending_return.return_for_patient_message(item=item, now=timezone.now())
    item.due_at = min(item.due_at, due_at)
    if item.status == WorkItem.Status.RESPONDED:
        # The patient wrote back after our answer: the item is open work again.
        item.release()
        item.after_hours_acknowledged_at = None  # as in _reopen: a new episode
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
    record_event(
        item, kind, message=message, from_queue=from_queue, from_user=from_user, reason=reason
    )


def _assign_by_rule(*, item: WorkItem, decision: rules.RoutingDecision) -> None:
    if decision.assignee_id is None:
        return
    person, reason = resolve_person(
        user_id=decision.assignee_id,
        clinic=item.clinic,
        at=timezone.now(),
        work=(item.service_level, item.acuity),
    )
    if person is not None:
        item.hold_for(person, timezone.now())
        item.save(update_fields=["status", "claimed_by", "claimed_at", "updated_at"])
    record_event(
        item, WorkEvent.Kind.ASSIGNED, to_user=person, reason=f"{decision.rule_name}: {reason}"
    )


def _side_effects(*, item, message, decision, clinic) -> None:
    if decision.acuity == Acuity.EMERGENT:
        send_auto_reply(message=message, clinic=clinic, template=EMERGENCY_TEMPLATE)
        alert_on_call(item=item, window=0)
    # Urgent only: emergent has the emergency reply above, routine waits for the morning.
    # Both the message and the item: a follow-up that raises the thread to urgent counts,
    # an urgent line in a thread already emergent does not.
    if decision.acuity == Acuity.URGENT and item.acuity == Acuity.URGENT:
        acknowledge_after_hours(item=item, message=message, clinic=clinic)
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
    language, text = clinic_settings.auto_reply_text(
        clinic=clinic, name=template, language=message.conversation.patient.preferred_language
    )
    return inbox_services.send_auto_reply(
        in_reply_to=message, template=template, language=language, body=text
    )


def acknowledge_after_hours(
    *, item: WorkItem, message: Message, clinic: Clinic
) -> OutgoingMessage | None:
    """An urgent message received while the clinic is closed: its due time still counts
    business minutes (it is due the next morning), so the patient is told at once that
    the office is closed and to call the after-hours line or 911, and, by clinic policy,
    the on-call nurse is alerted. Once per item: under route()'s locks the item's stamp
    stops a second urgent message of the same night, and the reply's and the alert's
    unique keys stop a task delivered twice."""
    if item.after_hours_acknowledged_at is not None:
        return None
    # Receipt time, like the due time and the rules' time_of_day: when the patient wrote.
    if not sla.is_after_hours(clinic_settings.business_calendar(clinic=clinic), message.created_at):
        return None
    reply = send_auto_reply(message=message, clinic=clinic, template=AFTER_HOURS_TEMPLATE)
    item.after_hours_acknowledged_at = reply.created_at
    item.save(update_fields=["after_hours_acknowledged_at", "updated_at"])
    record_event(
        item,
        WorkEvent.Kind.AFTER_HOURS_ACKNOWLEDGED,
        message=message,
        to_queue=None,
        to_user=None,
        reason=f"after hours: patient told to call (automatic acknowledgement, {reply.language})",
    )
    if clinic_settings.clinic_routing(clinic=clinic).alert_on_call_for_after_hours_urgent:
        alert_on_call_after_hours(item=item, message=message)
    return reply


def alert_on_call_after_hours(*, item: WorkItem, message: Message) -> list[Notification]:
    """The on-call alert for an urgent message received after hours: once per message
    (the window), with no message text (it travels by e-mail and webhook)."""
    clinic = item.clinic
    due = timezone.localtime(item.due_at, ZoneInfo(clinic.time_zone))
    return _alert_on_call_once(
        item=item,
        kind=Notification.Kind.AFTER_HOURS_ALERT,
        window=message.pk,
        subject=f"[{clinic.name}] URGENT patient message after hours",
        body=(
            f"An urgent portal message arrived while the clinic is closed and is waiting in "
            f"{item.queue.name} (work item {item.pk}), due {due:%a %d %b %H:%M %Z} by "
            f"business hours. The patient was told to call the after-hours line or 911."
        ),
        event="after-hours alert",
    )


def alert_on_call(*, item: WorkItem, window: int) -> list[Notification]:
    return _alert_on_call_once(
        item=item,
        kind=Notification.Kind.ON_CALL_ALERT,
        window=window,
        subject=f"[{item.clinic.name}] EMERGENT patient message"
        + (f" unclaimed, alert {window + 1}" if window else ""),
        body=(
            f"An emergent portal message is waiting in {item.queue.name} (work item "
            f"{item.pk}), due {item.due_at:%H:%M %Z}. Claim it and call the patient."
        ),
        event=f"on-call alert {window + 1}",
    )


def _alert_on_call_once(
    *, item: WorkItem, kind: str, window: int, subject: str, body: str, event: str
) -> list[Notification]:
    """Alert the clinic's on-call staff once per (item, kind, window) and note who was
    alerted in the item's history."""
    created = notifications.notify_once(
        item=item,
        kind=kind,
        window=window,
        recipients=notifications.on_call_recipients(item=item, at=timezone.now()),
        subject=subject,
        body=body,
    )
    if created:
        record_event(
            item,
            WorkEvent.Kind.ALERTED,
            to_queue=None,
            to_user=None,
            reason=f"{event} to " + ", ".join(n.recipient for n in created),
        )
    return created
