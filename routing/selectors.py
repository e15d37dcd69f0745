"""Reads of routing for the staff screens and the API: queues, work items, pages and
counts, always scoped to the user's clinics."""

import datetime
import hashlib
import logging
from collections.abc import Iterable, Sequence

from django.db.models import Case, IntegerField, Max, OuterRef, Q, QuerySet, Subquery, Value, When
from django.http import Http404

from accounts.models import Clinic, Membership, Role, User
from accounts.selectors import clinics_for_user
from config.input import ID_MAX, parse_count
from inbox.audit import record_patient_data_access, record_patient_data_accesses
from inbox.models import Conversation, Message, OutgoingMessage
from routing import scope
from routing.clinic_settings import membership_role
from routing.exceptions import AmbiguousConversation, OutsideScopeOfPractice
from routing.models import (
    Queue,
    RoutingRule,
    WorkItem,
)
from triage.ml.labels import ACUITY_RANK, Acuity

logger = logging.getLogger(__name__)

OPEN_STATUSES = (WorkItem.Status.OPEN, WorkItem.Status.CLAIMED)


def work_clinics(*, user: User) -> QuerySet[Clinic]:
    """The clinics whose message threads and queues `user` reads and works: those where
    they hold a clinical role (scope.decide_work), not billing or administrator."""
    if not user.is_authenticated:
        return Clinic.objects.none()
    return Clinic.objects.filter(
        pk__in=Membership.objects.filter(user=user, role__in=scope.WORKERS).values("clinic_id")
    )


def require_work_role(*, user: User, clinic_id: int) -> str:
    """The role `user` holds in a clinic of theirs if it reads and works messages there;
    else OutsideScopeOfPractice (403) saying why. Callers have already answered 404 for
    another clinic's rows, so this confirms nothing the person's clinic does not show."""
    role = membership_role(user_id=user.pk, clinic=clinic_id)
    refuse_unless_works(role=role)
    return role


def refuse_unless_works(*, role: str | None) -> None:
    """require_work_role for a role already known (the screens' current membership)."""
    decision = scope.decide_work(role=role)
    if not decision.allowed:
        raise OutsideScopeOfPractice(decision.reason)


def queues_for_user(*, user: User) -> QuerySet[Queue]:
    return Queue.objects.filter(clinic__in=work_clinics(user=user)).select_related("clinic")


def access_queue(*, user: User, queue_id: int) -> Queue:
    """A queue of one of the user's clinics (else 404) that their role there works
    (else 403 with the reason)."""
    queue = (
        Queue.objects.filter(pk=queue_id, clinic__in=clinics_for_user(user=user))
        .select_related("clinic")
        .first()
    )
    if queue is None:
        raise Http404("queue not found")
    require_work_role(user=user, clinic_id=queue.clinic_id)
    return queue


def open_work_items(*, user: User, queue: Queue | None = None) -> QuerySet[WorkItem]:
    """Work not yet answered, most acute first, then earliest due: the queue page order.
    Only the clinics where the user works messages; someone who works none of their
    clinics' messages (billing, administrator) is refused with the reason."""
    clinics = work_clinics(user=user)
    if queue is None and not clinics.exists():
        membership = Membership.objects.filter(user=user).order_by("clinic_id").first()
        if membership is not None:
            require_work_role(user=user, clinic_id=membership.clinic_id)
    items = WorkItem.objects.filter(clinic__in=clinics, status__in=OPEN_STATUSES)
    if queue is not None:
        items = items.filter(queue=queue)
    # conversation__patient: for the access log of the page (whose patients it showed).
    return items.select_related("queue", "message", "claimed_by", "conversation__patient").order_by(
        "acuity_rank", "due_at", "id"
    )


# Wording a clinic may replace with its own AutoReplyTemplate rows.
PAGE_SIZE = 50
ROLE_HOME_QUEUE = {
    Role.CLERICAL: Role.CLERICAL,
    Role.MA: Role.MA,
    Role.NURSE: Role.NURSE,
    Role.PHYSICIAN: Role.PHYSICIAN,
}


def access_work_item(*, user: User, item_id: int, viewed_as: str | None) -> WorkItem:
    """An item of one of the user's clinics, or 404 (never confirm another clinic's);
    403 with the reason if their role there does not read messages (billing, admin).

    `viewed_as` is what the caller shows of it (a PatientDataAccess.What, e.g. the
    message thread), written to the access log here so no page can forget it; None for
    an action that only checks the item is theirs and shows nothing of the patient. It
    has no default on purpose: every caller says which it is."""
    item = (
        WorkItem.objects.filter(pk=item_id, clinic__in=clinics_for_user(user=user))
        .select_related(
            "queue", "clinic", "claimed_by", "message", "conversation__patient", "matched_rule"
        )
        .first()
    )
    if item is None:
        raise Http404("work item not found")  # refused: nothing was shown, nothing logged
    # Before the access log: a refused role is shown nothing, so nothing is logged.
    require_work_role(user=user, clinic_id=item.clinic_id)
    if viewed_as is not None:
        record_patient_data_access(
            user=user, patient=item.conversation.patient, what=viewed_as, object_id=item.pk
        )
    return item


def visible_queues(*, user: User, clinic: Clinic, role: str) -> list[Queue]:
    """The pools shown to a person: a physician sees the physician queues only (their own
    items are under My work); everyone else sees every clinical pool of the clinic."""
    if role not in scope.WORKERS:
        return []  # billing works e-visits, administrators the configuration: no queues
    queues = Queue.objects.filter(clinic=clinic, role__in=ROLE_HOME_QUEUE.values())
    if role == Role.PHYSICIAN:
        queues = queues.filter(role=Role.PHYSICIAN)
    return list(queues.order_by("-is_role_default", "role", "name"))


def home_queue(*, queues: list[Queue], role: str) -> Queue | None:
    """Where a person lands: their role's default pool (a clerk on the clerical pool, a
    nurse on nurse triage)."""
    wanted = ROLE_HOME_QUEUE.get(role)
    for queue in queues:
        if queue.role == wanted and queue.is_role_default:
            return queue
    return queues[0] if queues else None


def work_items_shown(*, user: User, items: Iterable[WorkItem], viewed_as: str) -> None:
    """Writes one page of a queue to the access log: one row per patient on the page,
    pointing at their first work item there. queue_page and my_work_page call it for the
    rows they return; the API, whose page is cut by DRF's paginator, calls it with that
    page, so only what the response really holds is logged. Items need
    conversation__patient loaded (open_work_items and the pages do)."""
    record_patient_data_accesses(
        user=user,
        what=viewed_as,
        shown=[(item.conversation.patient, item.pk) for item in items],
    )


def _page_rows(
    items: QuerySet[WorkItem], after: tuple | None, limit: int, *, user: User, viewed_as: str
):
    if after is not None:
        rank, due_at, item_id = after
        items = items.filter(
            Q(acuity_rank__gt=rank)
            | Q(acuity_rank=rank, due_at__gt=due_at)
            | Q(acuity_rank=rank, due_at=due_at, id__gt=item_id)
        )
    rows = list(
        items.select_related("message", "conversation__patient", "claimed_by", "queue")
        .only(
            "id",
            "acuity",
            "acuity_rank",
            "due_at",
            "status",
            "service_level",
            "updated_at",  # page_version: a row redrawn when its item was saved
            "breached_at",
            "after_hours_acknowledged_at",
            "routing_reason",
            "queue__name",
            "queue__role",
            "message__subject",
            "message__category",
            "message__created_at",
            "message__body",  # the row's one-line preview (workspace/_rows.html)
            "conversation__patient__name",
            "conversation__patient__clinic",  # the access log's clinic, without a query per row
            "conversation__patient__preferred_language",
            "claimed_by__username",
        )
        .order_by("acuity_rank", "due_at", "id")[: limit + 1]
    )
    more = len(rows) > limit
    rows = rows[:limit]  # the extra row only tells whether there is a next page: not shown
    work_items_shown(user=user, items=rows, viewed_as=viewed_as)
    return rows, (make_cursor(rows[-1]) if more else None)


EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
MICROSECOND = datetime.timedelta(microseconds=1)


def make_cursor(item: WorkItem) -> str:
    # Exact integers (no float timestamps): the keyset must not skip or repeat a row.
    return f"{item.acuity_rank}.{(item.due_at - EPOCH) // MICROSECOND}.{item.pk}"


def parse_cursor(value: str | None) -> tuple | None:
    """A keyset position "rank.timestamp.id" (from a "load more" link); None if absent.
    Anything malformed raises ValueError."""
    if not value:
        return None
    # ASCII digits of bounded length: "²" passes isdigit() and fails int(), and a huge
    # timestamp overflows the datetime below (OverflowError, not ValueError).
    parts = [parse_count(part, maximum=ID_MAX) for part in value.split(".")]
    if len(parts) != 3 or None in parts:
        raise ValueError("not a page position")
    rank, micros, item_id = parts
    try:
        return rank, EPOCH + micros * MICROSECOND, item_id
    except OverflowError as exc:
        raise ValueError("not a page position") from exc


def queue_page(
    *,
    queue: Queue,
    user: User,
    viewed_as: str,
    after: tuple | None = None,
    limit: int = PAGE_SIZE,
):
    """One page of a pool shown to `user`: unclaimed items, most acute first, then
    earliest due. Keyset pagination on the partial index of open items: flat however long
    the history. The page's patients are written to the access log as `viewed_as`."""
    return _page_rows(_pool_items(queue), after, limit, user=user, viewed_as=viewed_as)


def _pool_items(queue: Queue) -> QuerySet[WorkItem]:
    # A pool's page and its page_version read the same items.
    # Not pended (routing.pending): the predicate of workitem_open_by_queue, word for word.
    return WorkItem.objects.filter(queue=queue, status=WorkItem.Status.OPEN, pended_until=None)


def my_work_page(
    *,
    user: User,
    clinic: Clinic,
    viewed_as: str,
    after: tuple | None = None,
    limit: int = PAGE_SIZE,
):
    """One page of the items `user` has claimed, in queue order; written to the access log
    as `viewed_as`, like a pool's page."""
    return _page_rows(_held_items(user, clinic), after, limit, user=user, viewed_as=viewed_as)


def _held_items(user: User, clinic: Clinic) -> QuerySet[WorkItem]:
    # My work's page and its page_version read the same items.
    return WorkItem.objects.filter(clinic=clinic, claimed_by=user, status=WorkItem.Status.CLAIMED)


# Pools can hold tens of thousands of items; counting them all on every refresh would
# cost more than the page. Counts stop at this cap and show as "1000+".
COUNT_CAP = 1000
# The order of the partial indexes the counts read (workitem_open_by_queue for a pool,
# workitem_held_by_person for My work).
INDEX_ORDER = ("acuity_rank", "due_at", "id")


class _CappedCount(Subquery):
    """COUNT(*) of a LIMITed subquery, as a column: several capped counts in one statement."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) AS capped)"
    output_field = IntegerField()


def _capped(items: QuerySet[WorkItem]) -> QuerySet[WorkItem]:
    # At most COUNT_CAP entries, read in index order. The ORDER BY is what keeps the count
    # on its index: with only a LIMIT, PostgreSQL may pick a sequential scan, expecting to
    # find COUNT_CAP rows early, and then read the whole table when the range is empty or
    # small (no urgent item left in a pool: 110 ms at 1,000,000 items).
    return items.order_by(*INDEX_ORDER).values("id")[:COUNT_CAP]


def _capped_count(items: QuerySet[WorkItem]) -> int:
    # COUNT over a LIMITed subquery: an index range scan of at most COUNT_CAP entries.
    return _capped(items).count()


def _per_acuity(items: QuerySet[WorkItem], *, overdue_at: datetime.datetime | None) -> dict:
    # One capped count per acuity (a range of the index), and of those overdue.
    columns = {}
    for acuity, rank in ACUITY_RANK.items():
        columns[str(acuity)] = _CappedCount(_capped(items.filter(acuity_rank=rank)))
        if overdue_at is not None:
            ranked = items.filter(acuity_rank=rank, due_at__lt=overdue_at)
            columns[f"overdue_{acuity}"] = _CappedCount(_capped(ranked))
    return columns


def _summed(row: dict, *, overdue: bool) -> dict:
    """Counts per acuity, each capped at COUNT_CAP, and their total, overdue (if counted)
    and the waiting emergent and urgent ones, each capped at COUNT_CAP too: a sum reaches
    the cap whenever one of its parts did, so "1000+" is never shown for fewer."""
    counts = {str(acuity): row[str(acuity)] for acuity in ACUITY_RANK}
    counts["total"] = min(sum(counts.values()), COUNT_CAP)
    counts["acute"] = min(counts[Acuity.EMERGENT] + counts[Acuity.URGENT], COUNT_CAP)
    if overdue:
        counts["overdue"] = min(sum(row[f"overdue_{a}"] for a in ACUITY_RANK), COUNT_CAP)
    return counts


def pool_counts(
    *, queues: Sequence[Queue], overdue_in: Queue | None, now: datetime.datetime
) -> dict[int, dict]:
    """Open items of each pool per acuity, their total and the waiting emergent and urgent
    ones (the page title's badge), each capped at COUNT_CAP; overdue too for the pool
    `overdue_in` (the one shown). One statement however many pools: each count is a range
    of the partial index of open items (queue, acuity_rank, due_at, id), index only, of
    at most COUNT_CAP entries."""
    if not queues:
        return {}
    items = WorkItem.objects.filter(
        queue=OuterRef("pk"), status=WorkItem.Status.OPEN, pended_until=None
    )
    columns = _per_acuity(items, overdue_at=None)
    if overdue_in is not None:
        for acuity, rank in ACUITY_RANK.items():
            overdue = _CappedCount(_capped(items.filter(acuity_rank=rank, due_at__lt=now)))
            # Only the pool shown: CASE runs the subquery for that row alone.
            columns[f"overdue_{acuity}"] = Case(
                When(pk=overdue_in.pk, then=overdue), default=Value(0)
            )
    rows = Queue.objects.filter(pk__in=[q.pk for q in queues]).values("pk", **columns)
    return {
        row["pk"]: _summed(row, overdue=overdue_in is not None and row["pk"] == overdue_in.pk)
        for row in rows
    }


def my_work_counts(*, user: User, clinic: Clinic, now: datetime.datetime) -> dict:
    """The items `user` holds in `clinic` per acuity, their total and overdue, each capped
    at COUNT_CAP (someone may hold 100,000 after a reassignment). One statement of
    ranges of the partial index of held items (claimed_by, clinic, acuity_rank, due_at)."""
    columns = _per_acuity(_held_items(user, clinic), overdue_at=now)
    (row,) = Clinic.objects.filter(pk=clinic.pk).values(**columns)
    return _summed(row, overdue=True)


# --- live refresh of an open queue page (workspace.views.work_rows, static/js/live.js) ---

# The live refresh redraws as many rows as the page shows ("Load more" included), up to this.
LIVE_ROWS_MAX = 10 * PAGE_SIZE
# What a row shows, and where: a change to any of these redraws the page.
ROW_FIELDS = (
    "id",
    "acuity_rank",
    "due_at",
    "status",
    "service_level",
    "claimed_by",
    "message",
    "updated_at",
)


def page_version(*, rows: Sequence[WorkItem], more: bool, badge: int) -> str:
    """A fingerprint of what a queue page shows: its rows in order (each item, its place
    and what the row says), whether "Load more" follows, and the count in the title. The
    page keeps the one it was drawn with; the live refresh compares it with the one of
    the page as it is now, and only a different one redraws the page."""
    key = [
        (
            item.pk,
            item.acuity_rank,
            item.due_at.isoformat(),
            item.status,
            item.service_level,
            item.claimed_by_id,
            item.message_id,
            item.updated_at.isoformat(),
        )
        for item in rows
    ]
    return hashlib.sha256(repr((key, more, badge)).encode()).hexdigest()[:24]


def _version_now(items: QuerySet[WorkItem], *, limit: int, badge: int) -> str:
    # The positions alone: one range of the partial index of open items (a pool) or of the
    # person's claimed items, limit + 1 rows of the work item table, no patient loaded.
    rows = list(items.only(*ROW_FIELDS).order_by("acuity_rank", "due_at", "id")[: limit + 1])
    return page_version(rows=rows[:limit], more=len(rows) > limit, badge=badge)


def queue_page_version(*, queue: Queue, badge: int, limit: int = PAGE_SIZE) -> str:
    """page_version of queue_page(queue=queue, limit=limit) as it would be drawn now,
    without loading (so without logging) any patient."""
    return _version_now(_pool_items(queue), limit=limit, badge=badge)


def my_work_page_version(*, user: User, clinic: Clinic, badge: int, limit: int = PAGE_SIZE) -> str:
    """page_version of my_work_page(user=user, clinic=clinic, limit=limit) as it would be
    drawn now, without loading any patient."""
    return _version_now(_held_items(user, clinic), limit=limit, badge=badge)


def waiting_acute_count(*, queue: Queue) -> int:
    """Unclaimed emergent and urgent items of a pool, capped at COUNT_CAP: the count in
    the queue page's title. One range of the partial index of open items."""
    urgent = ACUITY_RANK[Acuity.URGENT]  # emergent ranks 0, urgent 1
    return _capped_count(_pool_items(queue).filter(acuity_rank__lte=urgent))


def conversation_thread(*, item: WorkItem) -> list:
    """Patient messages and our replies of the item's conversation, oldest first."""
    incoming = list(
        Message.objects.filter(conversation_id=item.conversation_id).select_related(
            "classification"
        )
    )
    outgoing = list(
        OutgoingMessage.objects.filter(conversation_id=item.conversation_id).select_related(
            "author"
        )
    )
    return sorted(incoming + outgoing, key=lambda m: (m.created_at, m.pk))


def reassign_targets(*, clinic: Clinic) -> tuple[list[Queue], list[Membership]]:
    queues = list(
        Queue.objects.filter(clinic=clinic, role__in=ROLE_HOME_QUEUE.values()).order_by(
            "role", "name"
        )
    )
    people = list(
        Membership.objects.filter(clinic=clinic, role__in=ROLE_HOME_QUEUE.values())
        .select_related("user")
        .order_by("role", "user__username")
    )
    return queues, people


def item_events(*, item: WorkItem) -> QuerySet:
    return item.events.select_related("actor", "from_queue", "to_queue", "to_user").order_by(
        "created_at", "id"
    )


# --- testing a rule before it is saved -------------------------------------------------


def routed_messages_since(*, clinic: Clinic, since: datetime.datetime):
    """The clinic's routed messages received since `since`, oldest first, with what the
    router read: classification and patient."""
    return (
        Message.objects.filter(clinic=clinic, status=Message.Status.ROUTED, created_at__gte=since)
        .select_related("classification", "conversation__patient")
        .order_by("pk")
    )


def latest_item_ids(*, conversation_ids: Iterable[int]) -> dict[int, int]:
    """conversation id -> its newest work item's id."""
    rows = (
        WorkItem.objects.filter(conversation_id__in=list(conversation_ids))
        .values("conversation_id")
        .annotate(latest=Max("id"))
    )
    return {row["conversation_id"]: row["latest"] for row in rows}


# --- scope of practice (routing/scope.py) ---------------------------------------------


# --- API v1 reads: messages, work items by filter, configuration ------------------------


def readable_work_items(*, user: User) -> QuerySet[WorkItem]:
    """Every work item, of any status, of the clinics where the user works messages, in
    queue order (the API's list, which its filters narrow). Someone who works none of
    their clinics' messages (billing, administrator) is refused with the reason."""
    # The ids, not a subquery: for one clinic PostgreSQL then reads `clinic_id = X` and
    # walks the index (clinic, acuity_rank, due_at, id) in order, stopping after a page.
    clinic_ids = list(work_clinics(user=user).values_list("id", flat=True))
    if not clinic_ids:
        membership = Membership.objects.filter(user=user).order_by("clinic_id").first()
        if membership is not None:
            require_work_role(user=user, clinic_id=membership.clinic_id)
    return (
        WorkItem.objects.filter(clinic_id__in=clinic_ids)
        .select_related("queue", "message", "claimed_by", "conversation__patient")
        .order_by("acuity_rank", "due_at", "id")
    )


def _message_clinic_ids(*, user: User, integration) -> QuerySet[Clinic] | list[int]:
    # The integration reads its own clinic's messages; a person, their clinics (the role
    # is checked per clinic after the lookup, so another clinic's row answers 404).
    if integration is not None:
        return [integration.clinic_id]
    return clinics_for_user(user=user)


def access_message(*, user: User, integration, message_id: int, viewed_as: str) -> Message:
    """One message, for the integration of its clinic or for staff who may read its
    clinic's threads (as access_work_item: 404 for another clinic's, 403 with the reason
    for billing and administrators). Written to the access log as `viewed_as`."""
    message = (
        Message.objects.filter(
            pk=message_id, clinic__in=_message_clinic_ids(user=user, integration=integration)
        )
        .select_related("clinic", "conversation__patient")
        .first()
    )
    if message is None:
        raise Http404("message not found")
    if integration is None:
        require_work_role(user=user, clinic_id=message.clinic_id)
    record_patient_data_access(
        user=user, patient=message.conversation.patient, what=viewed_as, object_id=message.pk
    )
    return message


def conversation_messages(
    *, user: User, integration, conversation_external_id: str, clinic_slug: str = ""
) -> QuerySet[Message]:
    """The messages of one conversation (as the portal named it), oldest first, under the
    same rules as access_message. The caller pages them and logs the page
    (messages_shown): only what the answer holds."""
    conversations = Conversation.objects.filter(
        external_id=conversation_external_id,
        clinic__in=_message_clinic_ids(user=user, integration=integration),
    )
    if clinic_slug:
        conversations = conversations.filter(clinic__slug=clinic_slug)
    found = list(conversations[:2])
    if not found:
        raise Http404("conversation not found")
    if len(found) > 1:
        raise AmbiguousConversation(
            f"Conversation {conversation_external_id!r} exists in more than one of your "
            "clinics: add clinic=SLUG."
        )
    (conversation,) = found
    if integration is None:
        require_work_role(user=user, clinic_id=conversation.clinic_id)
    return (
        Message.objects.filter(conversation=conversation)
        .select_related("clinic", "conversation__patient")
        .order_by("id")
    )


def messages_shown(*, user: User, messages: Iterable[Message], viewed_as: str) -> None:
    """The access log of one page of messages: one row per patient, at their first."""
    record_patient_data_accesses(
        user=user,
        what=viewed_as,
        shown=[(message.conversation.patient, message.pk) for message in messages],
    )


def configuration_clinics(*, user: User) -> QuerySet[Clinic]:
    """The clinics whose routing configuration (queues, rules) the user reads: those
    where they are the administrator."""
    return clinics_for_user(user=user, role=Role.ADMIN)


def queues_for_reading(*, user: User) -> QuerySet[Queue]:
    """Queues, for their ids and names: the administrators of a clinic (who configure
    them) and its clinical staff (who filter and reassign work by them); billing staff
    work no queue. Nobody of these clinics: 404, never a hint the list exists."""
    clinics = Clinic.objects.filter(
        Q(pk__in=configuration_clinics(user=user)) | Q(pk__in=work_clinics(user=user))
    )
    if not clinics.exists():
        raise Http404("not found")
    return Queue.objects.filter(clinic__in=clinics).select_related("clinic").order_by("id")


def routing_rules_for_reading(*, user: User) -> QuerySet[RoutingRule]:
    """The rules of the clinics the user administers, in the order they are tried; to
    anyone else the list does not exist (404)."""
    clinics = configuration_clinics(user=user)
    if not clinics.exists():
        raise Http404("not found")
    return (
        RoutingRule.objects.filter(clinic__in=clinics)
        .select_related("clinic", "updated_by")
        .order_by("order", "id")
    )


def task_work_items(
    *,
    user: User,
    integration,
    statuses: Sequence[str] = (),
    held_by: int | None = None,
    unheld_in_queue: int | None = None,
) -> QuerySet[WorkItem]:
    """Work items as FHIR Tasks (routing.api.fhir): for the integration of their clinic
    (the EHR) or for staff who may read its messages (readable_work_items), any status
    unless `statuses` narrows them; `held_by` a person's items, `unheld_in_queue` a
    queue's items nobody holds. Tasks carry no patient (their focus is the message, read
    and logged on its own), so nothing is logged here."""
    if integration is not None:
        items = WorkItem.objects.filter(clinic_id=integration.clinic_id)
    else:
        items = readable_work_items(user=user)
    if statuses:
        items = items.filter(status__in=statuses)
    if held_by is not None:
        items = items.filter(claimed_by_id=held_by)
    if unheld_in_queue is not None:
        items = items.filter(queue_id=unheld_in_queue, claimed_by__isnull=True)
    return items.select_related("queue", "claimed_by").order_by("id")
