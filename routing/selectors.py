import datetime
import logging
from collections.abc import Iterable
from functools import lru_cache

import holidays
from django.db.models import Count, Max, Q, QuerySet
from django.http import Http404

from accounts.models import Absence, Clinic, Membership, Role, User
from accounts.selectors import clinics_for_user
from inbox.audit import record_patient_data_access, record_patient_data_accesses
from inbox.models import Message, OutgoingMessage
from routing import sla
from routing.models import (
    AutoReplyTemplate,
    BusinessHours,
    ClinicClosure,
    ClinicRouting,
    OnCallShift,
    Queue,
    RoutingRule,
    SlaPolicy,
    WorkItem,
)
from triage.ml.labels import ACUITY_RANK

logger = logging.getLogger(__name__)

OPEN_STATUSES = (WorkItem.Status.OPEN, WorkItem.Status.CLAIMED)


def queues_for_user(*, user: User) -> QuerySet[Queue]:
    return Queue.objects.filter(clinic__in=clinics_for_user(user=user)).select_related("clinic")


def access_queue(*, user: User, queue_id: int) -> Queue:
    queue = queues_for_user(user=user).filter(pk=queue_id).first()
    if queue is None:
        raise Http404("queue not found")
    return queue


def open_work_items(*, user: User, queue: Queue | None = None) -> QuerySet[WorkItem]:
    """Work not yet answered, most acute first, then earliest due: the queue page order."""
    items = WorkItem.objects.filter(
        clinic__in=clinics_for_user(user=user), status__in=OPEN_STATUSES
    )
    if queue is not None:
        items = items.filter(queue=queue)
    # conversation__patient: for the access log of the page (whose patients it showed).
    return items.select_related("queue", "message", "claimed_by", "conversation__patient").order_by(
        "acuity_rank", "due_at", "id"
    )


# Wording a clinic may replace with its own AutoReplyTemplate rows.
DEFAULT_AUTO_REPLIES = {
    ("emergency", "en"): (
        "We received your message. If this is an emergency, call 911 now or go to the "
        "nearest emergency room. Do not wait for a reply here. A nurse from {clinic} will "
        "call you as soon as possible."
    ),
    ("emergency", "es"): (
        "Recibimos su mensaje. Si es una emergencia, llame al 911 ahora o vaya a la sala "
        "de emergencias más cercana. No espere una respuesta aquí. Una enfermera de "
        "{clinic} le llamará lo antes posible."
    ),
}


def clinic_routing(*, clinic: Clinic) -> ClinicRouting:
    settings_row = ClinicRouting.objects.filter(clinic=clinic).first()
    return settings_row or ClinicRouting(clinic=clinic)


@lru_cache(maxsize=64)
def _public_holidays(country: str, subdivision: str):
    if not country:
        return frozenset()
    return holidays.country_holidays(country, subdiv=subdivision or None)


def business_calendar(*, clinic: Clinic) -> sla.BusinessCalendar:
    windows: dict[int, list[tuple[datetime.time, datetime.time]]] = {}
    for hours in BusinessHours.objects.filter(clinic=clinic):
        windows.setdefault(hours.weekday, []).append((hours.opens_at, hours.closes_at))
    routing_settings = clinic_routing(clinic=clinic)
    return sla.BusinessCalendar(
        time_zone=clinic.time_zone,
        windows=windows,
        holidays=_public_holidays(
            routing_settings.holiday_country, routing_settings.holiday_subdivision
        ),
        closures=frozenset(
            ClinicClosure.objects.filter(clinic=clinic).values_list("date", flat=True)
        ),
    )


def sla_rules(*, clinic: Clinic) -> list[sla.SlaRule]:
    return [
        sla.SlaRule(
            acuity=policy.acuity,
            target=sla.SlaTarget(sla.Clock(policy.clock), policy.amount),
            role=policy.role or None,
        )
        for policy in SlaPolicy.objects.filter(clinic=clinic)
    ]


def routing_rules(*, clinic: Clinic) -> list:
    return [rule.as_rule() for rule in RoutingRule.objects.filter(clinic=clinic, enabled=True)]


def queue_roles(*, clinic: Clinic) -> dict[int, str]:
    return dict(Queue.objects.filter(clinic=clinic).values_list("id", "role"))


def auto_reply_text(*, clinic: Clinic, name: str, language: str) -> tuple[str, str]:
    """(language, text) of a clinic's automatic reply: the clinic's own wording in the
    patient's language, else ours in that language, else English."""
    language = (language or "en").lower().split("-")[0]
    for lang in dict.fromkeys((language, "en")):
        own = AutoReplyTemplate.objects.filter(clinic=clinic, name=name, language=lang).first()
        if own is not None:
            return lang, own.body
        if (name, lang) in DEFAULT_AUTO_REPLIES:
            return lang, DEFAULT_AUTO_REPLIES[(name, lang)].format(clinic=clinic.name)
    raise LookupError(f"no auto-reply template {name!r}")


def on_call_clinicians(*, clinic: Clinic, at: datetime.datetime) -> list[User]:
    shifts = OnCallShift.objects.filter(
        clinic=clinic, starts_at__lte=at, ends_at__gt=at
    ).select_related("clinician")
    return [shift.clinician for shift in shifts]


def clinicians_of(*, clinic: Clinic, roles=(Role.NURSE, Role.PHYSICIAN)) -> list[User]:
    return [
        m.user
        for m in Membership.objects.filter(clinic=clinic, role__in=roles).select_related("user")
    ]


def current_absence(*, user_id: int, at: datetime.datetime) -> Absence | None:
    return (
        Absence.objects.filter(user_id=user_id, starts_at__lte=at, ends_at__gt=at)
        .select_related("covering_user")
        .first()
    )


def membership_role(*, user_id: int, clinic: Clinic) -> str | None:
    return (
        Membership.objects.filter(user_id=user_id, clinic=clinic)
        .values_list("role", flat=True)
        .first()
    )


# --- staff screens -----------------------------------------------------------------------

PAGE_SIZE = 50
ROLE_HOME_QUEUE = {
    Role.CLERICAL: Role.CLERICAL,
    Role.MA: Role.MA,
    Role.NURSE: Role.NURSE,
    Role.PHYSICIAN: Role.PHYSICIAN,
}


def access_work_item(*, user: User, item_id: int, viewed_as: str | None) -> WorkItem:
    """An item of one of the user's clinics, or 404 (never confirm another clinic's).

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
    if viewed_as is not None:
        record_patient_data_access(
            user=user, patient=item.conversation.patient, what=viewed_as, object_id=item.pk
        )
    return item


def visible_queues(*, user: User, clinic: Clinic, role: str) -> list[Queue]:
    """The pools shown to a person: a physician sees the physician queues only (their own
    items are under My work); everyone else sees every clinical pool of the clinic."""
    if role == Role.BILLING:
        return []  # billing works e-visits, not patient queues
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
            "breached_at",
            "routing_reason",
            "queue__name",
            "queue__role",
            "message__subject",
            "message__category",
            "message__created_at",
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
    rank, micros, item_id = (int(part) for part in value.split("."))
    return rank, EPOCH + micros * MICROSECOND, item_id


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
    items = WorkItem.objects.filter(queue=queue, status=WorkItem.Status.OPEN)
    return _page_rows(items, after, limit, user=user, viewed_as=viewed_as)


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
    items = WorkItem.objects.filter(clinic=clinic, claimed_by=user, status=WorkItem.Status.CLAIMED)
    return _page_rows(items, after, limit, user=user, viewed_as=viewed_as)


def acuity_counts(*, items: QuerySet[WorkItem], now: datetime.datetime) -> dict:
    """Counts per acuity and overdue, in one query."""
    counts = items.aggregate(
        total=Count("id"),
        emergent=Count("id", filter=Q(acuity="emergent")),
        urgent=Count("id", filter=Q(acuity="urgent")),
        routine=Count("id", filter=Q(acuity="routine")),
        overdue=Count("id", filter=Q(due_at__lt=now)),
    )
    return counts


# Pools can hold tens of thousands of items; counting them all on every refresh would
# cost more than the page. Counts stop at this cap and show as "1000+".
COUNT_CAP = 1000


def _capped_count(items: QuerySet[WorkItem]) -> int:
    # COUNT over a LIMITed subquery: an index range scan of at most COUNT_CAP entries.
    return items.values("id")[:COUNT_CAP].count()


def queue_counts(*, queue: Queue, now: datetime.datetime) -> dict:
    """Open items of one pool per acuity and overdue, each capped at COUNT_CAP. Every
    count is a range of the partial index (queue, acuity_rank, due_at) of open items."""
    items = WorkItem.objects.filter(queue=queue, status=WorkItem.Status.OPEN)
    counts, overdue = {}, 0
    for acuity, rank in ACUITY_RANK.items():
        counts[str(acuity)] = _capped_count(items.filter(acuity_rank=rank))
        overdue += _capped_count(items.filter(acuity_rank=rank, due_at__lt=now))
    counts["overdue"] = min(overdue, COUNT_CAP)
    counts["total"] = min(sum(counts[str(a)] for a in ACUITY_RANK), COUNT_CAP)
    return counts


def my_work_counts(*, user: User, clinic: Clinic, now: datetime.datetime) -> dict:
    return acuity_counts(
        items=WorkItem.objects.filter(
            clinic=clinic, claimed_by=user, status=WorkItem.Status.CLAIMED
        ),
        now=now,
    )


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


def pool_totals(*, queues: list[Queue], now: datetime.datetime) -> dict[int, dict]:
    """Open and emergent items per pool for the navigation (capped; two small queries per
    pool, however many items)."""
    totals = {}
    for queue in queues:
        items = WorkItem.objects.filter(queue=queue, status=WorkItem.Status.OPEN)
        totals[queue.pk] = {
            "total": _capped_count(items),
            "emergent": _capped_count(items.filter(acuity_rank=0)),
        }
    return totals


# --- testing a rule before it is saved -------------------------------------------------


def queue_names(*, clinic: Clinic) -> dict[int, str]:
    return dict(Queue.objects.filter(clinic=clinic).values_list("id", "name"))


def default_queue_ids(*, clinic: Clinic) -> dict[str, int]:
    return dict(Queue.objects.filter(clinic=clinic, is_role_default=True).values_list("role", "id"))


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
