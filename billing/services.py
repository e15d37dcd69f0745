"""Clinician time on conversations: a start/stop timer and manual minutes."""

import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Membership, User
from billing.models import TimeEntry
from routing.exceptions import InvalidTarget, InvalidTransition
from routing.selectors import access_work_item

MAX_MANUAL_MINUTES = 240


def _membership(*, user: User, clinic_id: int) -> Membership:
    return Membership.objects.get(user=user, clinic_id=clinic_id)


def start_timer(*, actor: User, item_id: int) -> TimeEntry:
    item = access_work_item(user=actor, item_id=item_id)
    membership = _membership(user=actor, clinic_id=item.clinic_id)
    try:
        with transaction.atomic():
            return TimeEntry.objects.create(
                clinic_id=item.clinic_id,
                conversation_id=item.conversation_id,
                work_item=item,
                user=actor,
                role=membership.role,
                credential=membership.credential,
                source=TimeEntry.Source.TIMER,
                started_at=timezone.now(),
            )
    except IntegrityError as exc:
        raise InvalidTransition("Your timer is already running on this conversation.") from exc


def stop_timer(*, actor: User, item_id: int) -> TimeEntry:
    item = access_work_item(user=actor, item_id=item_id)
    with transaction.atomic():
        entry = (
            TimeEntry.objects.select_for_update()
            .filter(user=actor, conversation_id=item.conversation_id, ended_at__isnull=True)
            .first()
        )
        if entry is None:
            raise InvalidTransition("No timer of yours is running on this conversation.")
        entry.ended_at = timezone.now()
        entry.seconds = int((entry.ended_at - entry.started_at).total_seconds())
        entry.save(update_fields=["ended_at", "seconds"])
        return entry


def log_minutes(
    *, actor: User, item_id: int, minutes: int, source: str = TimeEntry.Source.MANUAL
) -> TimeEntry:
    if not isinstance(minutes, int) or not 1 <= minutes <= MAX_MANUAL_MINUTES:
        raise InvalidTarget(f"Minutes must be a whole number from 1 to {MAX_MANUAL_MINUTES}.")
    item = access_work_item(user=actor, item_id=item_id)
    membership = _membership(user=actor, clinic_id=item.clinic_id)
    ended = timezone.now()
    return TimeEntry.objects.create(
        clinic_id=item.clinic_id,
        conversation_id=item.conversation_id,
        work_item=item,
        user=actor,
        role=membership.role,
        credential=membership.credential,
        source=source,
        started_at=ended - datetime.timedelta(minutes=minutes),
        ended_at=ended,
        seconds=minutes * 60,
    )
