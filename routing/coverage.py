"""Coverage: work meant for, or held by, someone out of office goes to their cover or
back to the role pool, with the reason recorded."""

import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import Absence, Clinic, User
from routing import clinic_settings, scope, scope_selectors
from routing.events import record_event
from routing.models import WorkEvent, WorkItem


def may_take(*, user_id: int, clinic: Clinic, service_level: str, acuity: str) -> bool:
    """Whether the person may claim work of this service level and acuity in the clinic
    (the scope of practice with the clinic's grants)."""
    role = clinic_settings.membership_role(user_id=user_id, clinic=clinic)
    grants = scope_selectors.scope_grants(clinic_ids=[clinic.pk], role=role) if role else []
    return scope.decide(
        role=role, action=scope.CLAIM, service_level=service_level, acuity=acuity, grants=grants
    ).allowed


def resolve_person(
    *, user_id: int, clinic: Clinic, at: datetime.datetime, work: tuple[str, str] | None = None
) -> tuple[User | None, str]:
    """Who actually gets work meant for this person: them, their cover while they are
    out of office, or nobody (the role pool), with the reason. With `work` (service level,
    acuity), nobody is handed work their scope of practice does not let them take: it
    stays in the role pool instead of with someone who could only send it on."""
    if clinic_settings.membership_role(user_id=user_id, clinic=clinic) is None:
        return None, f"user {user_id} is not staff of this clinic: left in the pool"
    user = User.objects.get(pk=user_id)
    absence = clinic_settings.current_absence(user_id=user_id, at=at)
    if absence is None:
        person, why = user, f"assigned to {user.get_username()}"
    else:
        cover = absence.covering_user
        if (
            cover is None
            or clinic_settings.membership_role(user_id=cover.pk, clinic=clinic) is None
            or clinic_settings.current_absence(user_id=cover.pk, at=at) is not None
        ):
            return None, f"{user.get_username()} out of office: back to the role pool"
        person = cover
        why = f"{user.get_username()} out of office: covered by {cover.get_username()}"
    if work is not None:
        level, acuity = work
        if not may_take(user_id=person.pk, clinic=clinic, service_level=level, acuity=acuity):
            return None, (
                f"{person.get_username()} may not take {acuity} {level}-level work (scope of "
                "practice): left in the role pool"
            )
    return person, why


def apply_coverage(*, now: datetime.datetime | None = None) -> int:
    """Move work held by people who are out of office now to their cover, or back to
    the role pool. Idempotent: moved work is no longer held by the absent person."""
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
            person, reason = resolve_person(
                user_id=from_user.pk,
                clinic=item.clinic,
                at=now,
                work=(item.service_level, item.acuity),
            )
            if person == from_user:
                continue  # back already
            if person is not None:
                item.hold_for(person, now)
            else:
                item.release()
            item.save(update_fields=["status", "claimed_by", "claimed_at", "updated_at"])
            record_event(
                item,
                WorkEvent.Kind.COVERED,
                from_queue=item.queue,
                from_user=from_user,
                reason=reason,
            )
            moved += 1
    return moved
