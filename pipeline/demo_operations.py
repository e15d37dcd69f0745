"""Demo only: twelve weeks of clinic work behind the demo's messages, so the operations
dashboard has figures to show. A simulation, and labelled as one: the replies are made by
the real services (routing.work_items.respond and close, which record first read and
first response), then every time of the item is moved back by the same draw, so receipt,
read, reply, close, due time and breach stay in the order they happened."""

import datetime
import random

from django.db import transaction

from accounts.models import Clinic, Role, User
from config.errors import DomainError
from inbox.models import Message, OutgoingMessage
from routing import work_items
from routing.models import WorkEvent, WorkItem

WEEKS = 12
# Hours from receipt to the first reply, median by acuity (the draw is log-normal around
# it); the first read comes earlier, the close later.
MEDIAN_REPLY_HOURS = {"emergent": 0.25, "urgent": 5.0, "routine": 22.0}
# Sent up to nurse triage by the clerk or MA who first had it (also a label correction).
MOVED_UP_SHARE = 0.1
WAITING_SHARE = 0.12  # left unanswered, received in the last two days: the backlog
CLOSED_SHARE = 0.6
DEMO_REPLY = "(Demo) Thank you for your message; we have answered it in the portal."


def _responder(*, item: WorkItem, staff: dict[str, User]) -> User:
    """Who may answer it by the scope of practice: urgent and emergent work is a nurse's
    unless it is physician-level; routine work its own role's."""
    if item.service_level == Role.PHYSICIAN:
        return staff[Role.PHYSICIAN]
    if item.acuity in ("urgent", "emergent"):
        return staff[Role.NURSE]
    return staff[item.service_level]


def simulate_operations_history(*, clinic: Clinic, prefix: str, rng: random.Random, now) -> int:
    """Answer most of the clinic's demo items through the services, then date them over
    the last twelve weeks. Returns how many were answered."""
    staff = {
        role: User.objects.get(username=f"{prefix}-{role.value}")
        for role in (Role.CLERICAL, Role.MA, Role.NURSE, Role.PHYSICIAN)
    }
    answered = 0
    for item in WorkItem.objects.filter(clinic=clinic).order_by("pk"):
        waiting = rng.random() < WAITING_SHARE
        shift = datetime.timedelta(
            hours=rng.uniform(0, 48) if waiting else rng.uniform(48, WEEKS * 7 * 24 - 24)
        )
        with transaction.atomic():
            if not waiting:
                try:
                    if item.service_level in ("clerical", "ma") and rng.random() < MOVED_UP_SHARE:
                        item = work_items.reassign(
                            actor=staff[item.service_level],
                            item_id=item.pk,
                            role=Role.NURSE,
                            reason="(demo) a clinical question: nurse triage",
                        )
                    actor = _responder(item=item, staff=staff)
                    work_items.respond(actor=actor, item_id=item.pk, body=DEMO_REPLY)
                    if rng.random() < CLOSED_SHARE:
                        work_items.close(actor=actor, item_id=item.pk, reason="answered")
                    answered += 1
                except DomainError:
                    waiting = True  # the scope said no: it waits, like real work would
            _date_back(item_id=item.pk, shift=shift, waiting=waiting, rng=rng)
    return answered


def _date_back(*, item_id: int, shift: datetime.timedelta, waiting: bool, rng) -> None:
    item = WorkItem.objects.get(pk=item_id)
    received = item.created_at - shift
    reply = datetime.timedelta(hours=MEDIAN_REPLY_HOURS[item.acuity] * rng.lognormvariate(0, 0.8))
    times = {"created_at": received, "due_at": item.due_at - shift}
    if not waiting:
        times["first_read_at"] = received + reply * rng.uniform(0.2, 0.8)
        times["first_response_at"] = received + reply
        if item.closed_at:
            times["closed_at"] = received + reply + datetime.timedelta(hours=rng.uniform(0.5, 24))
        if times["first_response_at"] > times["due_at"]:
            times["breached_at"] = times["due_at"]  # as the SLA sweep would have marked it
    WorkItem.objects.filter(pk=item_id).update(**times)
    Message.objects.filter(pk=item.message_id).update(created_at=received)
    events = WorkEvent.objects.filter(work_item_id=item_id)
    events.filter(kind=WorkEvent.Kind.ROUTED).update(created_at=received)
    for kind, field in (
        (WorkEvent.Kind.RESPONDED, "first_response_at"),
        (WorkEvent.Kind.CLOSED, "closed_at"),
    ):
        if field in times:
            events.filter(kind=kind).update(created_at=times[field])
    if "first_response_at" in times:
        OutgoingMessage.objects.filter(in_reply_to_id=item.message_id).update(
            created_at=times["first_response_at"]
        )
