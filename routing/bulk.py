"""Bulk actions on the queue page: claim, close or reassign several items at once, for the
roles that sort volume (domain.md: the front desk and medical assistants, who move
scheduling, records and refill requests by the dozen).

Nurses and physicians do not get them: their work is reading symptoms one message at a
time, and a batch of urgent messages closed or moved unread is the error the scope of
practice is there to prevent. They claim, reassign and close from the item's page.

Each item goes through the same service as one at a time (routing.work_items: claim,
close, reassign), with its scope-of-practice checks, in its own transaction: a refusal of
one item changes nothing of it and does not stop the others. The outcome of each is kept,
in the services' own words, for one summary.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.http import Http404

from accounts.models import Clinic, User
from config.errors import DomainError
from config.input import parse_id
from routing import scope, work_items
from routing.exceptions import InvalidTarget
from routing.models import WorkItem

# One request at most: a page of the queue is 50 rows, "Load more" twice is 150; a
# hundred items answered in a few seconds keeps the request short and the summary readable.
BULK_LIMIT = 100
BULK_ROLES = (scope.CLERICAL, scope.MA)

CLAIM, CLOSE, REASSIGN = "claim", "close", "reassign"
BULK_ACTIONS = (CLAIM, CLOSE, REASSIGN)
NOT_FOUND = "Not found among this clinic's items."


class BulkRequestRefused(InvalidTarget):
    """The request as a whole cannot be done (nothing selected, too many, no target):
    nothing was attempted."""

    code = "bulk_request_refused"


@dataclass(frozen=True)
class Target:
    """Where a reassign sends the items: exactly one of a role's pool, a queue, a person."""

    role: str | None = None
    queue_id: int | None = None
    person_id: int | None = None


@dataclass(frozen=True)
class Outcome:
    item_id: int
    done: bool
    # What was done, or why not: the service's refusal, in its words.
    detail: str


def decide_bulk(*, role: str | None) -> scope.Decision:
    """May someone with `role` in the clinic act on several items at once?"""
    if role in BULK_ROLES:
        return scope.ALLOWED
    subject = scope.ROLE_SUBJECT.get(role, "Someone without a role in this clinic")
    return scope.Decision(
        allowed=False,
        reason=(
            f"{subject} does not act on several items at once: bulk actions are for the "
            "front desk and medical assistants, who sort routine requests by volume. "
            "Open each item to claim, reassign or close it."
        ),
    )


def parse_target(value: str) -> Target | None:
    """A choice of the reassign list ("role:nurse", "queue:12", "person:7"); None for
    nothing chosen or anything else."""
    kind, _, rest = (value or "").partition(":")
    if kind == "role" and rest in scope.SERVICE_LEVELS:
        return Target(role=rest)
    number = parse_id(rest)
    if number is None:
        return None
    if kind == "queue":
        return Target(queue_id=number)
    if kind == "person":
        return Target(person_id=number)
    return None


def parse_item_ids(values: Iterable[str]) -> list[int]:
    """The ids selected, in the order of the page, each once; anything not an id is left
    out (a checkbox only ever sends one)."""
    ids = []
    for value in values:
        item_id = parse_id(value)
        if item_id is not None and item_id not in ids:
            ids.append(item_id)
    return ids


def act_on_items(
    *,
    actor: User,
    clinic: Clinic,
    action: str,
    item_ids: list[int],
    reason: str = "",
    target: Target | None = None,
) -> list[Outcome]:
    """Claim, close or reassign each of `item_ids` (items of `clinic`, the clinic being
    worked in) through its service; the outcome of each, in order. The request as a whole
    is refused (BulkRequestRefused, nothing attempted) when it is not one of the actions,
    selects nothing or more than BULK_LIMIT, or is a reassign without a target or reason;
    a role that may not act in bulk is refused before that (OutsideScopeOfPractice)."""
    _check_request(action=action, item_ids=item_ids, reason=reason, target=target)
    # Items of another clinic (or none) are not confirmed to exist: the same words as an
    # item the actor may not see.
    here = set(WorkItem.objects.filter(pk__in=item_ids, clinic=clinic).values_list("pk", flat=True))
    outcomes = []
    for item_id in item_ids:
        if item_id not in here:
            outcomes.append(Outcome(item_id, False, NOT_FOUND))
            continue
        try:
            detail = _act(actor=actor, action=action, item_id=item_id, reason=reason, target=target)
        except DomainError as refusal:
            outcomes.append(Outcome(item_id, False, refusal.detail))
        except Http404:
            outcomes.append(Outcome(item_id, False, NOT_FOUND))
        else:
            outcomes.append(Outcome(item_id, True, detail))
    return outcomes


def _check_request(*, action: str, item_ids: list[int], reason: str, target: Target | None) -> None:
    if action not in BULK_ACTIONS:
        raise BulkRequestRefused(
            "Choose what to do with the selected items: claim, close or reassign."
        )
    if not item_ids:
        raise BulkRequestRefused("Select at least one item first (the boxes in the rows).")
    if len(item_ids) > BULK_LIMIT:
        raise BulkRequestRefused(
            f"At most {BULK_LIMIT} items at a time: {len(item_ids)} were selected. "
            "Select fewer and try again; nothing was changed."
        )
    if action == REASSIGN:
        if target is None:
            raise BulkRequestRefused("Choose where to send them: a role, a queue or a person.")
        if not reason.strip():
            raise BulkRequestRefused("A reassignment needs a reason.")


def _act(*, actor: User, action: str, item_id: int, reason: str, target: Target | None) -> str:
    if action == CLAIM:
        work_items.claim(actor=actor, item_id=item_id)
        return "claimed: it is yours now."
    if action == CLOSE:
        work_items.close(actor=actor, item_id=item_id, reason=reason)
        return "closed."
    item = work_items.reassign(
        actor=actor,
        item_id=item_id,
        reason=reason,
        role=target.role,
        queue_id=target.queue_id,
        person_id=target.person_id,
    )
    if item.claimed_by_id is not None:
        return f"sent to {item.claimed_by.get_username()} ({item.queue.name})."
    return f"sent to {item.queue.name}."
