"""An item's return from pending (routing.pending), in a module of its own: routing.services
brings a pended item back when the patient writes again, and the SLA sweep when its clock
ran out, and neither imports the pending actions (which import routing.work_items, which
imports routing.services)."""

import datetime

from accounts.models import User
from routing.events import record_event
from routing.models import WorkEvent, WorkItem

PEND_FIELDS = [
    "pended_until",
    "pend_event",
    "pend_reason",
    "pended_at",
    "pended_by",
    "pend_pauses_sla",
]


def return_locked(
    *,
    item: WorkItem,
    now: datetime.datetime,
    why: str,
    actor: User | None = None,
    save: bool = True,
) -> None:
    """Back from pending, for an item the caller holds locked: into its pool, with an
    UNPENDED event; by the clinic's policy taken when pended, the due time moves later
    by the time it was pended. With save=False the caller saves (routing.services)."""
    if item.pend_pauses_sla and item.pended_at is not None and now > item.pended_at:
        item.due_at += now - item.pended_at
    pended_by = item.pended_by
    clear_pend(item)
    if save:
        item.save(update_fields=["due_at", "updated_at", *PEND_FIELDS])
    record_event(
        item,
        WorkEvent.Kind.UNPENDED,
        actor=actor,
        from_user=pended_by,
        to_user=None,
        reason=why[:500],
    )


def clear_pend(item: WorkItem) -> None:
    item.pended_until, item.pend_event, item.pend_reason = None, "", ""
    item.pended_at, item.pended_by, item.pend_pauses_sla = None, None, False


def return_for_patient_message(*, item: WorkItem, now: datetime.datetime) -> None:
    """The patient wrote again in the conversation of a pended item (routing.services,
    which holds it locked and saves it): it comes back now, whatever it waited for."""
    if item.pended_until is not None:
        return_locked(item=item, now=now, why="the patient wrote again", save=False)
