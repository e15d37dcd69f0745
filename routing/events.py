"""The one writer of work events, the audit trail of every work item."""

import datetime

from accounts.models import User
from inbox.models import Message
from routing.models import Queue, WorkEvent, WorkItem

_CURRENT = object()


def new_event(
    item: WorkItem,
    kind: str,
    *,
    actor: User | None = None,
    message: Message | None = None,
    from_queue: Queue | None = None,
    from_user: User | None = None,
    to_queue: Queue | object | None = _CURRENT,
    to_user: User | object | None = _CURRENT,
    reason: str = "",
    call_outcome: str = "",
) -> WorkEvent:
    """The event record_event writes, not yet saved (a burst's events are written
    together: routing.services.route_classified_many)."""
    return WorkEvent(
        work_item=item,
        kind=kind,
        actor=actor,
        message=message,
        from_queue=from_queue,
        to_queue=item.queue if to_queue is _CURRENT else to_queue,
        from_user=from_user,
        to_user=(item.claimed_by if item.claimed_by_id else None)
        if to_user is _CURRENT
        else to_user,
        reason=reason[:500],
        call_outcome=call_outcome,
    )


def record_event(
    item: WorkItem,
    kind: str,
    *,
    actor: User | None = None,
    message: Message | None = None,
    from_queue: Queue | None = None,
    from_user: User | None = None,
    to_queue: Queue | object | None = _CURRENT,
    to_user: User | object | None = _CURRENT,
    reason: str = "",
    call_outcome: str = "",
    at: datetime.datetime | None = None,
) -> WorkEvent:
    """One event of `item`. Where it went defaults to where it is now (its queue and
    holder); pass to_queue/to_user for an event that says otherwise (None included).
    `at` dates an event that happened earlier (a call entered after it was made)."""
    event = new_event(
        item,
        kind,
        actor=actor,
        message=message,
        from_queue=from_queue,
        from_user=from_user,
        to_queue=to_queue,
        to_user=to_user,
        reason=reason,
        call_outcome=call_outcome,
    )
    event.save()
    if at is not None:
        # created_at is auto_now_add (set on insert whatever is passed), so date it after.
        WorkEvent.objects.filter(pk=event.pk).update(created_at=at)
        event.created_at = at
    return event
