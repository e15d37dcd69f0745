"""Internal notes: a note to colleagues on a work item, beside the reply to the patient.

A note is never sent: it is not an OutgoingMessage (so never in the portal's outbox,
GET /api/v1/outgoing-messages), fires no webhook and changes nothing of the item (no
status, no first response). It stays in the conversation's history, shown on the item's
page in order with the messages and replies. Anyone of the clinic whose role reads and
works its messages (clerical, MA, nurse, physician) may add one to an item they can
open; billing and administrators are refused, another clinic's item is not found.
"""

from django.db import transaction
from django.http import Http404

from accounts.models import User
from accounts.selectors import clinics_for_user
from routing import selectors
from routing.exceptions import InvalidTarget, WorkItemClosed
from routing.models import InternalNote, WorkItem

NOTE_MAX_CHARS = 2000


def add_internal_note(*, actor: User, item_id: int, body: str) -> InternalNote:
    text = (body or "").strip()
    if not text:
        raise InvalidTarget("A note needs text.")
    if len(text) > NOTE_MAX_CHARS:
        raise InvalidTarget(
            f"A note may be at most {NOTE_MAX_CHARS} characters; this one has {len(text)}."
        )
    with transaction.atomic():
        item = (
            WorkItem.objects.select_related("closed_by")
            .filter(pk=item_id, clinic__in=clinics_for_user(user=actor))
            .first()
        )
        if item is None:
            raise Http404("work item not found")  # never confirm another clinic's item
        selectors.require_work_role(user=actor, clinic_id=item.clinic_id)
        if item.status == WorkItem.Status.CLOSED:
            # Closed means read-only (routing.work_items), notes included.
            by = f" by {item.closed_by.get_username()}" if item.closed_by_id else ""
            raise WorkItemClosed(
                f"This item was closed{by}, so no note can be added. If there is more to "
                "do, a nurse or physician may reopen it."
            )
        return InternalNote.objects.create(
            work_item=item, conversation_id=item.conversation_id, author=actor, body=text
        )


def notes_of_conversation(*, conversation_id: int) -> list[InternalNote]:
    """The conversation's notes, oldest first (the caller has checked access)."""
    return list(
        InternalNote.objects.filter(conversation_id=conversation_id)
        .select_related("author")
        .order_by("created_at", "pk")
    )
