import datetime
import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import holidays
from django.db.models import Count, Max, Q, QuerySet
from django.http import Http404

from accounts.models import Absence, Clinic, Membership, Role, User
from accounts.selectors import clinics_for_user
from inbox.audit import record_patient_data_access, record_patient_data_accesses
from inbox.models import Message, OutgoingMessage
from routing import scope, sla
from routing.models import (
    AutoReplyTemplate,
    BusinessHours,
    ClinicClosure,
    ClinicRouting,
    OnCallShift,
    Queue,
    RoutingRule,
    ScopeGrant,
    SlaPolicy,
    WorkItem,
)
from triage.ml.labels import ACUITY_RANK, Acuity

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
    # An urgent message received while the clinic is closed (services.acknowledge_after_hours).
    ("after_hours", "en"): (
        "We received your message. The {clinic} office is closed now; your message will be "
        "read when we open. If you need help before then, call our after-hours line at "
        "{after_hours_phone}. If this is an emergency, call 911 now."
    ),
    ("after_hours", "es"): (
        "Recibimos su mensaje. La oficina de {clinic} está cerrada ahora; leeremos su "
        "mensaje cuando abramos. Si necesita ayuda antes, llame a nuestra línea fuera del "
        "horario de atención al {after_hours_phone}. Si es una emergencia, llame al 911 ahora."
    ),
}
AFTER_HOURS_PHONE = "{after_hours_phone}"
# In place of any wording that names the after-hours line while the clinic has none set:
# a patient is never told to call an empty number.
WITHOUT_AFTER_HOURS_LINE = {
    "en": (
        "We received your message. The {clinic} office is closed now; your message will be "
        "read when we open. If you need care before then, or if this is an emergency, call "
        "911 or go to the nearest emergency department."
    ),
    "es": (
        "Recibimos su mensaje. La oficina de {clinic} está cerrada ahora; leeremos su "
        "mensaje cuando abramos. Si necesita atención antes, o si es una emergencia, llame "
        "al 911 o vaya a la sala de emergencias más cercana."
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
            return _with_after_hours_line(own.body, clinic=clinic, language=lang)
        if (name, lang) in DEFAULT_AUTO_REPLIES:
            text = DEFAULT_AUTO_REPLIES[(name, lang)].replace("{clinic}", clinic.name)
            return _with_after_hours_line(text, clinic=clinic, language=lang)
    raise LookupError(f"no auto-reply template {name!r}")


def _with_after_hours_line(text: str, *, clinic: Clinic, language: str) -> tuple[str, str]:
    """(language, text) with the clinic's after-hours line filled in wherever the wording
    (ours or the clinic's own) says {after_hours_phone}. With no line set, the whole text
    gives way to the wording without a number, in the same language when we have it."""
    if AFTER_HOURS_PHONE not in text:
        return language, text
    phone = clinic_routing(clinic=clinic).after_hours_phone.strip()
    if phone:
        return language, text.replace(AFTER_HOURS_PHONE, phone)
    if language not in WITHOUT_AFTER_HOURS_LINE:
        language = "en"
    return language, WITHOUT_AFTER_HOURS_LINE[language].replace("{clinic}", clinic.name)


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
            "updated_at",  # page_version: a row redrawn when its item was saved
            "breached_at",
            "after_hours_acknowledged_at",
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
    return _page_rows(_pool_items(queue), after, limit, user=user, viewed_as=viewed_as)


def _pool_items(queue: Queue) -> QuerySet[WorkItem]:
    # A pool's page and its page_version read the same items.
    return WorkItem.objects.filter(queue=queue, status=WorkItem.Status.OPEN)


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


# --- scope of practice (routing/scope.py) ---------------------------------------------


def scope_grants(*, clinic_ids: Iterable[int], role: str | None = None) -> list[scope.Grant]:
    """The clinics' widenings of the default scope (for one role, or all)."""
    grants = ScopeGrant.objects.filter(clinic_id__in=list(clinic_ids))
    if role is not None:
        grants = grants.filter(role=role)
    return [
        scope.Grant(role=g.role, action=g.action, service_level=g.service_level, acuity=g.acuity)
        for g in grants
    ]


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
    *, user: User, item: WorkItem, actions: Iterable[str] = scope.ACTIONS
) -> dict[str, scope.Decision]:
    """What `user` may do to `item` by the scope of practice: action -> decision, with
    the role they hold in the item's clinic and the clinic's grants."""
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


def item_scope(*, user: User, item: WorkItem) -> ItemScope:
    role = membership_role(user_id=user.pk, clinic=item.clinic_id)
    decisions = scope_decisions(user=user, item=item)
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
        )
        .filter(claimable_by(user=user))
        .exclude(pk=after_item_id)
        .order_by("acuity_rank", "due_at", "id")
        .only("id")
        .first()
    )
