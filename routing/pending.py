"""Pending: a work item set aside until a time, or until an event (a result back, the
patient's callback), with a reason; it leaves the active lists and comes back on its own.

The state is a few fields of WorkItem (pended_until, pend_event, pend_reason, pended_at,
pended_by, pend_pauses_sla), not a status: status stays "open", so the constraint of one
unclosed item per conversation, the claim's conditional update and every partial index on
status hold as they are; the pool index (workitem_open_by_queue) leaves pended items out
by its predicate, so the pool pages and counts stay on it.

- Who may pend: whoever may work the item (claim it, by the scope of practice of their
  role in its clinic). Pending releases the hold: it comes back to its pool, for anyone.
- pended_until is when it comes back at the latest: the time asked for, or for an event
  pend the "return no later than" date, so nothing is pended forever. The beat sweep
  `return_due_items` brings back what is due (routing.tasks.return_pended_items).
- An event pend comes back earlier when a person marks the event happened, and any pend
  when the patient writes again in the conversation (routing.services).
- The SLA clock: by the clinic's policy (ClinicRouting.pause_sla_while_pending, off by
  default) taken when the item is pended. Off: the clock runs, and the SLA sweep acts on
  the item as on any other. On: the sweep skips the item, and its due time moves later
  by the time it was pended when it comes back.
"""

import datetime
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from routing import clinic_settings, scope, work_items
from routing.events import record_event
from routing.exceptions import InvalidTarget, InvalidTransition
from routing.models import WorkEvent, WorkItem
from routing.pending_return import PEND_FIELDS, clear_pend, return_locked
from triage.ml.labels import Acuity

BATCH = 500
# How far ahead an item may be pended: a pend is a wait for something, not an archive.
LONGEST_PEND = datetime.timedelta(days=90)


def _aware(value: datetime.datetime, *, zone: str) -> datetime.datetime:
    # A time without a zone is the clinic's wall clock (the form's datetime-local).
    if timezone.is_naive(value):
        return timezone.make_aware(value, ZoneInfo(zone))
    return value


def _local(value: datetime.datetime, item: WorkItem) -> str:
    return f"{timezone.localtime(value, ZoneInfo(item.clinic.time_zone)):%a %d %b %H:%M}"


def pend(
    *,
    actor: User,
    item_id: int,
    reason: str,
    until: datetime.datetime | None = None,
    event: str = "",
    now: datetime.datetime | None = None,
) -> WorkItem:
    """Pend an open or claimed item until `until` (a time pend), or until `event` happens
    and `until` at the latest (an event pend). Refusals say why and change nothing."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    with transaction.atomic():
        item = work_items._locked_item(actor=actor, item_id=item_id)
        work_items._refuse_if_closed(item, done="pended")
        # "Who may pend": whoever may work it, i.e. claim it by their scope of practice.
        work_items._check_scope(actor=actor, item=item, action=scope.CLAIM)
        if item.pended_until is not None:
            raise InvalidTransition(
                f"This item is already pending until {_local(item.pended_until, item)}."
            )
        if item.status not in (WorkItem.Status.OPEN, WorkItem.Status.CLAIMED):
            raise InvalidTransition(
                "Only open or claimed work can be pended; this one is answered."
            )
        if item.acuity == Acuity.EMERGENT:
            raise InvalidTransition("An emergent item cannot be pended: it needs an answer now.")
        if not reason:
            raise InvalidTarget("Say why the item is pended (what you are waiting for).")
        if event and event not in WorkItem.PendEvent.values:
            raise InvalidTarget(
                "Choose the event to wait for: a result back or a patient callback."
            )
        if until is None:
            raise InvalidTarget(
                "Give the date and time it comes back" + (" at the latest." if event else ".")
            )
        until = _aware(until, zone=item.clinic.time_zone)
        if until <= now:
            raise InvalidTarget("The time to come back must be later than now.")
        if until > now + LONGEST_PEND:
            raise InvalidTarget("An item can be pended for 90 days at most.")
        from_user = item.claimed_by
        item.release()
        item.pended_until, item.pend_event, item.pend_reason = until, event, reason[:500]
        item.pended_at, item.pended_by = now, actor
        item.pend_pauses_sla = clinic_settings.clinic_routing(
            clinic=item.clinic
        ).pause_sla_while_pending
        item.save(update_fields=["status", "claimed_by", "claimed_at", "updated_at", *PEND_FIELDS])
        if event:
            what = f"until {WorkItem.PendEvent(event).label.lower()}, no later than"
        else:
            what = "until"
        record_event(
            item,
            WorkEvent.Kind.PENDED,
            actor=actor,
            from_queue=item.queue,
            from_user=from_user,
            to_queue=None,
            to_user=None,
            reason=f"{what} {_local(until, item)}: {reason}",
        )
        return item


def unpend(*, actor: User, item_id: int, now: datetime.datetime | None = None) -> WorkItem:
    """A person brings a pended item back now: the event it waited for happened (or it
    is needed earlier). Whoever may work it may."""
    now = now or timezone.now()
    with transaction.atomic():
        item = work_items._locked_item(actor=actor, item_id=item_id)
        work_items._check_scope(actor=actor, item=item, action=scope.CLAIM)
        if item.pended_until is None:
            raise InvalidTransition("This item is not pending.")
        if item.pend_event:
            why = f"{WorkItem.PendEvent(item.pend_event).label.lower()}: marked as happened"
        else:
            why = "brought back early"
        return_locked(item=item, now=now, actor=actor, why=why)
        return item


def return_due_items(*, now: datetime.datetime | None = None) -> int:
    """The beat sweep: every item pended until now or earlier comes back to its pool.
    Idempotent and safe in several processes: each item is re-checked under its lock,
    and rows another sweep holds are skipped."""
    now = now or timezone.now()
    due = WorkItem.objects.filter(pended_until__lte=now).order_by("pended_until")
    returned = 0
    for item_id in list(due.values_list("pk", flat=True)[:BATCH]):
        with transaction.atomic():
            item = (
                WorkItem.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("clinic", "queue", "pended_by")
                .filter(pk=item_id, pended_until__lte=now)
                .first()
            )
            if item is None:
                continue
            if item.status != WorkItem.Status.OPEN:
                # Answered or closed while pending: nothing comes back; the pend just ends.
                clear_pend(item)
                item.save(update_fields=["updated_at", *PEND_FIELDS])
                continue
            if item.pend_event:
                label = WorkItem.PendEvent(item.pend_event).label.lower()
                why = f"{label} not marked by {_local(item.pended_until, item)}: back in the queue"
            else:
                why = f"pended until {_local(item.pended_until, item)}: back in the queue"
            return_locked(item=item, now=now, why=why)
            returned += 1
    return returned
