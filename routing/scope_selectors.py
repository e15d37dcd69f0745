"""Reads for the scope of practice (routing/scope.py decides): a clinic's grants, whether a
physician replied, what one person may do on an item, and the next item they may take."""

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q

from accounts.models import Membership, Role, User
from accounts.selectors import clinics_for_user
from inbox.models import OutgoingMessage
from routing import scope
from routing.clinic_settings import membership_role
from routing.models import (
    ScopeGrant,
    WorkItem,
)

logger = logging.getLogger(__name__)


def scope_grants(*, clinic_ids: Iterable[int], role: str | None = None) -> list[scope.Grant]:
    """The clinics' widenings of the default scope (for one role, or all)."""
    grants = ScopeGrant.objects.filter(clinic_id__in=list(clinic_ids))
    if role is not None:
        grants = grants.filter(role=role)
    return [
        scope.Grant(role=g.role, action=g.action, service_level=g.service_level, acuity=g.acuity)
        for g in grants
    ]


_UNKNOWN = object()


def physician_replied(*, item: WorkItem) -> bool:
    """Whether a physician of the item's clinic has answered the patient on this
    conversation (a staff reply whose author holds the physician role there): what a
    nurse needs before closing a physician-level item."""
    physicians = Membership.objects.filter(clinic_id=item.clinic_id, role=Role.PHYSICIAN)
    return OutgoingMessage.objects.filter(
        conversation_id=item.conversation_id,
        kind=OutgoingMessage.Kind.STAFF_REPLY,
        author_id__in=physicians.values("user_id"),
    ).exists()


def scope_decisions(
    *,
    user: User,
    item: WorkItem,
    actions: Iterable[str] = scope.ACTIONS,
    role: str | object | None = _UNKNOWN,
) -> dict[str, scope.Decision]:
    """What `user` may do to `item` by the scope of practice: action -> decision, with
    the role they hold in the item's clinic (looked up unless given) and the clinic's
    grants."""
    if role is _UNKNOWN:
        role = membership_role(user_id=user.pk, clinic=item.clinic_id)
    grants = scope_grants(clinic_ids=[item.clinic_id], role=role) if role else []
    replied = None
    decisions = {}
    for action in actions:
        if action == scope.CLOSE and item.service_level == scope.PHYSICIAN and replied is None:
            replied = physician_replied(item=item)
        decisions[action] = scope.decide(
            role=role,
            action=action,
            service_level=item.service_level,
            acuity=item.acuity,
            physician_replied=bool(replied),
            grants=grants,
        )
    return decisions


def log_time_decision(
    *, user: User, item: WorkItem, role: str | object | None = _UNKNOWN
) -> scope.Decision:
    """May `user` log time (timer, minutes) on `item`: scope.decide_log_time with the
    role they hold in its clinic and the clinic's grants."""
    if role is _UNKNOWN:
        role = membership_role(user_id=user.pk, clinic=item.clinic_id)
    return scope.decide_log_time(
        role=role,
        service_level=item.service_level,
        acuity=item.acuity,
        grants=scope_grants(clinic_ids=[item.clinic_id], role=role) if role else [],
    )


@dataclass(frozen=True)
class ItemScope:
    """What the work item page may offer a person, by the scope of practice."""

    role: str | None
    decisions: dict[str, scope.Decision]
    # Why some actions are not offered, in plain words (one sentence per cause).
    refusals: list[str]
    # Offer "Send to nurse triage" (a reassign to the nurse role), with this reason.
    send_to_nurse: bool
    send_to_nurse_reason: str
    reopen: scope.Decision
    log_time: scope.Decision


def item_scope(*, user: User, item: WorkItem) -> ItemScope:
    role = membership_role(user_id=user.pk, clinic=item.clinic_id)
    decisions = scope_decisions(user=user, item=item, role=role)
    offered = [scope.REPLY, scope.CLOSE] if item.status != WorkItem.Status.CLOSED else []
    if item.status == WorkItem.Status.OPEN:
        offered.insert(0, scope.CLAIM)
    refused = [a for a in offered if not decisions[a].allowed]
    by_role = [a for a in refused if not decisions[a].awaits_physician_reply]
    refusals = (
        [
            scope.refusal(
                role=role, actions=by_role, service_level=item.service_level, acuity=item.acuity
            )
        ]
        if by_role
        else []
    )
    refusals += [decisions[a].reason for a in refused if decisions[a].awaits_physician_reply]
    return ItemScope(
        role=role,
        decisions=decisions,
        refusals=refusals,
        send_to_nurse=any(decisions[a].send_to_nurse for a in refused),
        send_to_nurse_reason=f"outside the scope of practice of {role or 'my role'}",
        reopen=scope.decide_reopen(role=role),
        log_time=log_time_decision(user=user, item=item, role=role),
    )


def claimable_by(*, user: User) -> Q:
    """A filter of work items: those `user` may claim by the scope of practice of the role
    they hold in each item's clinic (with that clinic's grants)."""
    memberships = Membership.objects.filter(user_id=user.pk).values_list("clinic_id", "role")
    allowed = Q(pk__in=[])
    for clinic_id, role in memberships:
        grants = scope_grants(clinic_ids=[clinic_id], role=role)
        for level, acuity in sorted(scope.claimable_cases(role=role, grants=grants)):
            allowed |= Q(clinic_id=clinic_id, service_level=level, acuity=acuity)
    return allowed


def next_item_to_open(*, user: User, queue_id: int, after_item_id: int) -> WorkItem | None:
    """The item to show after acting on one: the most acute, earliest-due open item of
    the same queue that `user` may claim (held by nobody), other than the one just done."""
    return (
        WorkItem.objects.filter(
            queue_id=queue_id,
            clinic__in=clinics_for_user(user=user),
            status=WorkItem.Status.OPEN,
            claimed_by__isnull=True,
            pended_until=None,
        )
        .filter(claimable_by(user=user))
        .exclude(pk=after_item_id)
        .order_by("acuity_rank", "due_at", "id")
        .only("id")
        .first()
    )
