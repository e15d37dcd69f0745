import logging

from django.db import transaction
from django.utils import timezone

from accounts.models import Clinic
from routing import sla
from routing.models import Queue, WorkEvent, WorkItem
from triage.labels import ACUITY_RANK, SERVICE_LEVEL_RANK, Acuity, ServiceLevel
from triage.models import Classification, Conversation, Message

logger = logging.getLogger(__name__)

DEFAULT_QUEUE_NAMES = {
    ServiceLevel.CLERICAL: "Clerical pool",
    ServiceLevel.MA: "Medical assistant pool",
    ServiceLevel.NURSE: "Nurse triage",
    ServiceLevel.PHYSICIAN: "Physician",
}


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


def route(*, message_id: int) -> WorkItem | None:
    """Put a classified message into a work item of its clinic. Safe to run twice: the
    message status is re-checked under a row lock, and the conversation row lock plus the
    one-open-item-per-conversation constraint keep a thread to a single open item."""
    with transaction.atomic():
        message = Message.objects.select_for_update(of=("self",)).get(pk=message_id)
        if message.status == Message.Status.ROUTED:
            return (
                WorkItem.objects.filter(conversation_id=message.conversation_id)
                .exclude(status=WorkItem.Status.CLOSED)
                .first()
            )
        if message.status != Message.Status.CLASSIFIED:
            logger.warning("message %s is not classified yet; not routed", message.pk)
            return None
        # Serializes routing per thread: two messages of one conversation never both
        # create an open item.
        Conversation.objects.select_for_update().get(pk=message.conversation_id)
        classification = Classification.objects.get(message=message)
        clinic = Clinic.objects.get(pk=message.clinic_id)
        role = classification.routing_service_level
        queue = default_queue(clinic=clinic, role=role)
        reason = f"default queue for predicted role {role}"
        if role != classification.service_level:
            reason = f"model unsure between {classification.service_level} and {role}: {role} queue"
        if classification.unclassified:
            reason = "classifier failed: nurse triage as urgent"
        due_at = sla.due_at(acuity=classification.acuity, received_at=message.created_at)

        item = (
            WorkItem.objects.select_for_update()
            .filter(conversation_id=message.conversation_id)
            .exclude(status=WorkItem.Status.CLOSED)
            .first()
        )
        if item is None:
            item = WorkItem.objects.create(
                clinic=clinic,
                conversation_id=message.conversation_id,
                message=message,
                queue=queue,
                acuity=classification.acuity,
                acuity_rank=ACUITY_RANK[Acuity(classification.acuity)],
                service_level=role,
                due_at=due_at,
                routing_reason=reason,
            )
            WorkEvent.objects.create(
                work_item=item, kind=WorkEvent.Kind.ROUTED, to_queue=queue, reason=reason
            )
        else:
            _add_message_to_open_item(
                item=item, message=message, classification=classification, due_at=due_at
            )

        message.status = Message.Status.ROUTED
        message.status_changed_at = timezone.now()
        message.save(update_fields=["status", "status_changed_at", "updated_at"])
        return item


def _add_message_to_open_item(
    *, item: WorkItem, message: Message, classification: Classification, due_at
) -> None:
    # A follow-up in an open thread can only make the item more urgent or move it up to a
    # more trained role, never the other way: "fever now" must not stay in the clerk pool.
    reason = f"new message {message.pk} in the conversation"
    rank = ACUITY_RANK[Acuity(classification.acuity)]
    if rank < item.acuity_rank:
        item.acuity, item.acuity_rank = classification.acuity, rank
        reason += f"; acuity raised to {classification.acuity}"
    item.due_at = min(item.due_at, due_at)
    from_queue = item.queue
    role = classification.routing_service_level
    needs_higher_role = (
        SERVICE_LEVEL_RANK[ServiceLevel(role)]
        > SERVICE_LEVEL_RANK[ServiceLevel(item.service_level)]
    )
    if needs_higher_role:
        item.service_level = role
        item.queue = default_queue(clinic=item.clinic, role=role)
        item.status, item.claimed_by, item.claimed_at = WorkItem.Status.OPEN, None, None
        item.routing_reason = f"moved up: {reason}"
        reason += f"; needs {role}"
    item.save()
    WorkEvent.objects.create(
        work_item=item,
        kind=WorkEvent.Kind.REASSIGNED if needs_higher_role else WorkEvent.Kind.MESSAGE_ADDED,
        from_queue=from_queue,
        to_queue=item.queue,
        reason=reason,
    )
