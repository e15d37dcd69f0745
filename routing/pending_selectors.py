"""Reads of pending work (routing.pending): the pended items of a clinic's pools, or
the ones a person pended, soonest back first. Written to the access log as the
pending list, one row per patient shown, like a queue page."""

from accounts.models import Clinic, User
from inbox.audit import record_patient_data_accesses
from inbox.models import PatientDataAccess
from routing.models import Queue, WorkItem

PENDING_LIMIT = 200


def pended_items(
    *, user: User, clinic: Clinic, queues: list[Queue], mine: bool = False
) -> list[WorkItem]:
    """The pended items of `queues` (the pools the person sees in `clinic`), or with
    `mine` the ones `user` pended there; soonest back first, at most PENDING_LIMIT (read on
    the partial index of pended items)."""
    # Open work only: an item answered or closed while pending waits for nothing.
    items = WorkItem.objects.filter(
        clinic=clinic, pended_until__isnull=False, status=WorkItem.Status.OPEN
    )
    items = items.filter(pended_by=user) if mine else items.filter(queue__in=queues)
    rows = list(
        items.select_related("queue", "message", "pended_by", "conversation__patient").order_by(
            "pended_until", "id"
        )[:PENDING_LIMIT]
    )
    record_patient_data_accesses(
        user=user,
        what=PatientDataAccess.What.PENDING_LIST,
        shown=[(item.conversation.patient, item.pk) for item in rows],
    )
    return rows
