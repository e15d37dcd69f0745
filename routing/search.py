"""Search and filters over a clinic's work (workspace.search_views): by MRN, patient name,
words of the patients' messages, and by acuity, status, due, assignee, needs review and
language. Reads only; the same visibility as the work item page (routing.selectors.
access_work_item): the items of the clinic being worked in, for a role that reads its
message threads (clerical, MA, nurse, physician); billing and administrators are refused
with the reason. What a result page shows is written to the access log here.

Full-text search on PostgreSQL: inbox_message.search_text, the stored
`to_tsvector('simple', subject || ' ' || body)` kept by a trigger, indexed by GIN (inbox
migration 0010_message_text_search; names: a GIN index of to_tsvector('simple', name)).
The 'simple' configuration lowercases and splits words without stemming or stop words: the
messages are in English and Spanish, and the 'english' configuration would stem Spanish
words by English rules ("dolores" -> "dolor" but "fiebre" -> "fiebr") and drop English
stop words only. Words of 3 letters or more match as prefixes ("vomit" finds "vomiting"),
which covers most of what stemming would. On SQLite (development) each word is a plain
case-insensitive `contains` on subject or body."""

import datetime
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import F, Max, Q, QuerySet

from accounts.models import Clinic, Membership, User
from inbox.audit import record_patient_data_accesses
from inbox.models import Message, Patient
from routing import scope
from routing.models import WorkItem
from routing.selectors import OPEN_STATUSES, refuse_unless_works

RESULTS_MAX = 50
# Full-text matches read, newest first, before the filters: enough for a page of results
# after several messages of one conversation collapse into one row.
TEXT_MATCHES_MAX = 3 * RESULTS_MAX
# The newest messages walked first for words (newest_matching_conversations).
RECENT_WINDOW = 20_000
# Patients found by name whose conversations are read (newest patients first).
PATIENTS_MAX = 200
# The config of the GIN index (inbox migration): a query in another config cannot use it.
TEXT_SEARCH_CONFIG = "simple"
WORD = re.compile(r"\w+", re.UNICODE)
PREFIX_MIN = 3

ACUITIES = ("emergent", "urgent", "routine")
STATUSES = tuple(WorkItem.Status.values)
DUE = ("overdue", "today")
ME, NOBODY = "me", "nobody"


@dataclass(frozen=True)
class Filters:
    """What the search page was asked, parsed from its URL (so it can be bookmarked)."""

    q: str = ""
    acuity: str = ""
    status: str = ""
    due: str = ""
    assignee: str = ""  # "me", "nobody" or a person's id
    needs_review: bool = False
    language: str = ""
    # What was in the URL and not understood, in plain words (shown on the page).
    ignored: tuple[str, ...] = field(default=(), compare=False)

    @property
    def any(self) -> bool:
        return bool(
            self.q
            or self.acuity
            or self.status
            or self.due
            or self.assignee
            or self.needs_review
            or self.language
        )


def parse_filters(params) -> Filters:
    """Filters from a query string (a QueryDict or dict). A value not understood is
    dropped and named in `ignored`, never an error: a bookmark outlives the lists."""
    ignored = []

    def pick(name: str, allowed) -> str:
        value = (params.get(name) or "").strip()
        if value and value not in allowed:
            ignored.append(f"{name}={value[:40]}")
            return ""
        return value

    assignee = (params.get("assignee") or "").strip()
    if (
        assignee
        and assignee not in (ME, NOBODY)
        and not (assignee.isascii() and assignee.isdigit())
    ):
        ignored.append(f"assignee={assignee[:40]}")
        assignee = ""
    language = (params.get("language") or "").strip()[:16]
    if language and not (language.isascii() and language.replace("-", "").isalnum()):
        ignored.append(f"language={language}")
        language = ""
    return Filters(
        q=(params.get("q") or "").strip()[:200],
        acuity=pick("acuity", ACUITIES),
        status=pick("status", STATUSES),
        due=pick("due", DUE),
        assignee=assignee,
        needs_review=params.get("needs_review") in ("1", "on", "true"),
        language=language,
        ignored=tuple(ignored),
    )


def may_read_message_text(*, role: str | None) -> bool:
    """Whether a role is shown message text (the queue rows' preview, search results):
    the roles that read the clinic's threads (scope.decide_work), not billing or admin."""
    return scope.decide_work(role=role).allowed


def text_query_words(q: str) -> list[str]:
    return WORD.findall(q.lower())[:8]


def _tsquery(words: list[str]) -> str:
    # Words only (\w+), so nothing in the box can be tsquery syntax.
    return " & ".join(f"{w}:*" if len(w) >= PREFIX_MIN else w for w in words)


def matching_messages(*, clinic: Clinic, q: str) -> QuerySet[Message]:
    """The clinic's patient messages whose subject or body hold every word of `q`."""
    return with_words(Message.objects.filter(clinic=clinic), text_query_words(q))


def with_words(messages: QuerySet[Message], words: list[str]) -> QuerySet[Message]:
    if not words:
        return messages.none()
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery

        # search_text: the stored tsvector of subject and body, GIN-indexed (inbox 0010).
        query = SearchQuery(_tsquery(words), config=TEXT_SEARCH_CONFIG, search_type="raw")
        return messages.filter(search_text=query)
    for word in words:
        messages = messages.filter(Q(subject__icontains=word) | Q(body__icontains=word))
    return messages


def newest_matching_conversations(*, clinic: Clinic, q: str, limit: int) -> list[int]:
    """The conversations of the newest `limit` messages that hold the words of `q`.

    Two reads on PostgreSQL, because its planner cannot tell a rare word from a common
    one well enough to choose between them (measured on 1,000,000 messages, bench/
    search.py): walking the newest messages and testing each stored vector finds a
    common word ("pain", 13% of messages) at once but reads every row for a word that is
    nowhere (3 s); the GIN index finds a rare word at once but reads and sorts every
    match of a common one (0.5 s). So: the newest RECENT_WINDOW messages first, walked
    (bounded); only if they hold fewer than `limit` matches, the GIN index, sorted."""
    matches = matching_messages(clinic=clinic, q=q).values_list("conversation_id", flat=True)
    if connection.vendor != "postgresql":
        return list(matches.order_by("-id")[:limit])
    top = Message.objects.aggregate(top=Max("id"))["top"] or 0
    recent = list(matches.filter(id__gt=top - RECENT_WINDOW).order_by("-id")[:limit])
    if len(recent) >= limit:
        return recent
    # "id + 0" is no column of an index: PostgreSQL reads the GIN index and sorts, rather
    # than walking the primary key backwards through every message.
    return list(matches.annotate(newest=F("id") + 0).order_by("-newest")[:limit])


def matching_patient_ids(*, clinic: Clinic, q: str) -> list[int]:
    """The clinic's patients with this exact MRN, or whose name holds every word of `q`
    (as the start of a word on PostgreSQL: "okon" finds Okonkwo; anywhere on SQLite).
    At most PATIENTS_MAX by name, newest first: a common surname alone asks for more."""
    patients = Patient.objects.filter(clinic=clinic)
    mrn = q.strip()
    by_mrn = list(patients.filter(mrn__in={mrn, mrn.upper()}).values_list("id", flat=True))
    words = text_query_words(q)
    if not words or len(mrn) < 2:
        return by_mrn
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchVector

        # The expression of the GIN index patient_name_search (inbox 0010).
        by_name = patients.alias(name_words=SearchVector("name", config=TEXT_SEARCH_CONFIG)).filter(
            name_words=SearchQuery(_tsquery(words), config=TEXT_SEARCH_CONFIG, search_type="raw")
        )
    else:
        by_name = patients
        for word in words:
            by_name = by_name.filter(name__icontains=word)
    named = by_name.order_by("-id").values_list("id", flat=True)[:PATIENTS_MAX]
    return by_mrn + [pk for pk in named if pk not in by_mrn]


def _filtered(items: QuerySet[WorkItem], *, filters: Filters, user: User, now, tz):
    if filters.acuity:
        items = items.filter(acuity=filters.acuity)
    if filters.status:
        items = items.filter(status=filters.status)
    elif not filters.q:
        # Filters alone are a view of the queue: the work not answered yet.
        items = items.filter(status__in=OPEN_STATUSES)
    if filters.due == "overdue":
        items = items.filter(due_at__lt=now, status__in=OPEN_STATUSES)
    elif filters.due == "today":
        today = now.astimezone(tz).date()
        start = datetime.datetime.combine(today, datetime.time.min, tzinfo=tz)
        items = items.filter(
            due_at__gte=start,
            due_at__lt=start + datetime.timedelta(days=1),
            status__in=OPEN_STATUSES,
        )
    if filters.assignee == ME:
        items = items.filter(claimed_by=user)
    elif filters.assignee == NOBODY:
        items = items.filter(claimed_by__isnull=True)
    elif filters.assignee:
        items = items.filter(claimed_by_id=int(filters.assignee))
    if filters.needs_review:
        items = items.filter(message__classification__needs_review=True)
    if filters.language:
        items = items.filter(conversation__patient__preferred_language=filters.language)
    return items


def _rows(items: QuerySet[WorkItem]) -> QuerySet[WorkItem]:
    # Not the stored words of the message (search_text): as long as its text, never shown.
    return items.select_related("queue", "message", "claimed_by", "conversation__patient").defer(
        "routing_decision", "message__search_text"
    )


def search_work_items(
    *,
    user: User,
    clinic: Clinic,
    role: str | None,
    filters: Filters,
    now: datetime.datetime,
    viewed_as: str,
    limit: int = RESULTS_MAX,
) -> list[WorkItem]:
    """The clinic's work items that match: one row per conversation (its newest item).
    With words, the conversations of patients with that MRN or name and those whose
    messages hold the words, newest first; filters alone, the unanswered work in queue
    order (most acute, then earliest due). Refuses a role that does not read messages
    (billing, administrator) with the reason; logs the patients of the rows returned."""
    refuse_unless_works(role=role)
    tz = ZoneInfo(clinic.time_zone)
    items = _filtered(
        WorkItem.objects.filter(clinic=clinic), filters=filters, user=user, now=now, tz=tz
    )
    if not filters.q:
        found = list(_rows(items).order_by("acuity_rank", "due_at", "id")[:limit])
    else:
        patient_ids = matching_patient_ids(clinic=clinic, q=filters.q)
        by_patient = items.filter(conversation__patient_id__in=patient_ids)
        conversation_ids = newest_matching_conversations(
            clinic=clinic, q=filters.q, limit=TEXT_MATCHES_MAX
        )
        by_text = items.filter(conversation_id__in=set(conversation_ids))
        candidates = []
        if patient_ids:
            candidates += _rows(by_patient).order_by("-id")[: limit * 3]
        if conversation_ids:
            candidates += _rows(by_text).order_by("-id")[: limit * 3]
        newest: dict[int, WorkItem] = {}
        for item in sorted(candidates, key=lambda i: -i.pk):
            newest.setdefault(item.conversation_id, item)
        found = list(newest.values())[:limit]
    record_patient_data_accesses(
        user=user,
        what=viewed_as,
        shown=[(item.conversation.patient, item.pk) for item in found],
    )
    return found


def assignee_choices(*, clinic: Clinic) -> list[tuple[str, str]]:
    """People of the clinic who hold work (its clinical roles), for the assignee filter."""
    people = (
        Membership.objects.filter(clinic=clinic, role__in=scope.WORKERS)
        .select_related("user")
        .order_by("user__username")
    )
    return [(str(m.user_id), f"{m.user.get_username()} ({m.get_role_display()})") for m in people]


def language_choices(*, clinic: Clinic) -> list[str]:
    """The preferred languages of the clinic's patients (a few distinct values)."""
    values = (
        Patient.objects.filter(clinic=clinic)
        .order_by("preferred_language")
        .values_list("preferred_language", flat=True)
        .distinct()[:20]
    )
    return [v for v in values if v]
