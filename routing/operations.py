"""The operations dashboard's figures: reads only, every number an SQL aggregate (no loop
over work items in Python), for the clinics and period of a `Period`.

What the figures measure:

- Receipt is the work item's `created_at`: the moment the message was routed into a
  queue, seconds after the portal posted it (the health page watches that gap). Time to
  first read, first response and close run from it to `first_read_at`,
  `first_response_at` (routing.work_items records both once) and `closed_at` (the latest
  close, when an item was reopened). Medians and 90th percentiles are `percentile_cont`
  (linear interpolation) over the items of the period that got there; the rest are still
  waiting and are counted as such, not as zero.
- Groups: acuity, ISO week of receipt (Monday, in the first clinic's time zone), queue
  and role are the item's as they stand now (after any reassignment).
- Within the SLA: answered (first response) no later than `due_at`. Items neither
  answered nor yet due are not decided and are left out; unanswered and past due counts
  as outside. A reopen sets a new due time (and clears `breached_at`): the item is then
  judged against its latest target.
- Backlog: items open or claimed (not yet answered), by queue and acuity, now.
- Who answered: the role the first responder held in the clinic when answering.
- Fairness: the same times, and the share of classified messages staff corrected, by the
  patient's preferred language and age band at receipt; a group is marked when its median
  (or correction rate) is more than 20% above the figure over all items of the period
  (FAIRNESS_GAP), given at least FAIRNESS_MIN_ITEMS items.

PostgreSQL computes the percentiles with `percentile_cont ... WITHIN GROUP`; SQLite (the
demo) has no such aggregate, so `percentile_sql` ranks the rows with window functions and
interpolates the same way. Should the live queries grow too slow, a daily rollup can
replace the bodies below behind the same functions.
"""

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import (
    Aggregate,
    Case,
    CharField,
    Count,
    DateField,
    Exists,
    Expression,
    F,
    FloatField,
    Func,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import TruncWeek
from django.http import Http404

from accounts.models import Clinic, Membership, Role, User
from routing.models import Queue, WorkEvent, WorkItem
from triage.ml.labels import ACUITY_RANK
from triage.models import Classification, LabelCorrection

WEEKS = 12
FRACTIONS = (0.5, 0.9)
MEASURES = {
    "first_read": "first_read_at",
    "first_response": "first_response_at",
    "close": "closed_at",
}
ACUITIES = [a.value for a in sorted(ACUITY_RANK, key=ACUITY_RANK.get)]  # emergent first
CLINICAL_ROLES = [Role.CLERICAL, Role.MA, Role.NURSE, Role.PHYSICIAN]
UNANSWERED = [WorkItem.Status.OPEN, WorkItem.Status.CLAIMED]
# A group is marked when its figure is more than this much above the overall one...
FAIRNESS_GAP = 0.20
# ...and it has at least this many items (a median of two says little).
FAIRNESS_MIN_ITEMS = 5
AGE_BANDS = ("under 18", "18-64", "65+", "unknown")
HOUR = 3600.0


# --- who may see it --------------------------------------------------------------------------


def clinics_for_dashboard(*, user: User) -> QuerySet[Clinic]:
    """The clinics whose operations dashboard `user` may see: where they are an
    administrator, or a member marked manager (Membership.is_manager). Aggregates only:
    no message or patient is shown."""
    if not user.is_authenticated:
        return Clinic.objects.none()
    memberships = Membership.objects.filter(user=user).filter(
        Q(role=Role.ADMIN) | Q(is_manager=True)
    )
    return Clinic.objects.filter(pk__in=memberships.values("clinic_id")).order_by("name")


def access_dashboard(
    *, user: User, slug: str | None, current_clinic_id: int | None = None
) -> tuple[Clinic, list[Clinic]]:
    """The clinic whose dashboard is asked for (by slug; else the clinic being worked in,
    else the first), and every clinic `user` may pick. 404 for anyone else and for a
    clinic they may not see: nobody learns which clinics exist."""
    clinics = list(clinics_for_dashboard(user=user))
    if slug:
        chosen = next((c for c in clinics if c.slug == slug), None)
    else:
        chosen = next((c for c in clinics if c.pk == current_clinic_id), None) or (
            clinics[0] if clinics else None
        )
    if chosen is None:
        raise Http404("no operations dashboard here")
    return chosen, clinics


# --- the period ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """The clinics and the items received in [start, end); `end` is also "now" for the
    backlog. Weeks are counted in `tz`."""

    clinic_ids: tuple[int, ...]
    start: datetime.datetime
    end: datetime.datetime
    tz: ZoneInfo

    @classmethod
    def last_weeks(
        cls, *, clinics: Sequence[Clinic], now: datetime.datetime, weeks: int = WEEKS
    ) -> "Period":
        """This ISO week and the `weeks - 1` before it, in the first clinic's zone."""
        tz = ZoneInfo(clinics[0].time_zone) if clinics else ZoneInfo("UTC")
        today = now.astimezone(tz).date()
        monday = today - datetime.timedelta(days=today.weekday() + 7 * (weeks - 1))
        start = datetime.datetime.combine(monday, datetime.time(), tzinfo=tz)
        return cls(clinic_ids=tuple(c.pk for c in clinics), start=start, end=now, tz=tz)

    def weeks(self) -> list[datetime.date]:
        first = self.start.astimezone(self.tz).date()
        first -= datetime.timedelta(days=first.weekday())
        last = self.end.astimezone(self.tz).date()
        return [first + datetime.timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]

    def items(self) -> QuerySet[WorkItem]:
        return WorkItem.objects.filter(
            clinic_id__in=self.clinic_ids, created_at__gte=self.start, created_at__lt=self.end
        )


# --- SQL building blocks ---------------------------------------------------------------------


class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate (NULLs are skipped); django.contrib.postgres
    has none."""

    function = "percentile_cont"
    template = "%(function)s(%(percentile)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, percentile: float, **extra):
        super().__init__(expression, percentile=float(percentile), **extra)


class Seconds(Func):
    """`later - earlier` in seconds (NULL if either is)."""

    arity = 2
    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="EXTRACT(EPOCH FROM (%(expressions)s))::double precision",
            arg_joiner=" - ",
            **extra,
        )

    def as_sqlite(self, compiler, connection, **extra):
        # Django keeps SQLite datetimes as UTC text, which julianday() reads.
        return self.as_sql(
            compiler,
            connection,
            template="((julianday(%(expressions)s)) * 86400.0)",
            arg_joiner=") - julianday(",
            **extra,
        )


class YearsBefore(Func):
    """The UTC date `years` years before a datetime (a birthday on it is that age)."""

    output_field = DateField()

    def __init__(self, expression, years: int, **extra):
        super().__init__(expression, years=int(years), **extra)

    def as_postgresql(self, compiler, connection, **extra):
        template = "((%(expressions)s)::date - INTERVAL '%(years)s years')::date"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        template = "date(%(expressions)s, '-%(years)s years')"
        return self.as_sql(compiler, connection, template=template, **extra)


def percentile_sql(inner_sql: str, *, groups: Sequence[str], fractions: Sequence[float]) -> str:
    """SQL computing, per group of `inner_sql`'s rows (columns `groups` and `v`, no NULL
    v), the row count `n` and percentile_cont(f) of v for each fraction: the rows ranked
    0..n-1 by window functions, the value at position f*(n-1) interpolated between its two
    neighbours. For SQLite (3.25+), which has no percentile aggregate."""
    if not all(g.isidentifier() for g in groups):
        raise ValueError("group columns are identifiers")
    cols = ", ".join(f'"{g}"' for g in groups)
    lead = f"{cols}, " if cols else ""
    over = f"PARTITION BY {cols}" if groups else ""
    picks = []
    for f in fractions:
        pos = f"({float(f)!r} * (n - 1))"
        low = f"CAST({pos} AS INTEGER)"
        picks.append(
            f"SUM(CASE WHEN i = {low} THEN v * (1 - ({pos} - {low})) "
            f"WHEN i = {low} + 1 THEN v * ({pos} - {low}) ELSE 0 END)"
        )
    # Only identifiers checked above and numbers are formatted in; values stay parameters
    # of `inner_sql`, compiled by Django.
    ranked = (
        f"SELECT {lead}v, ROW_NUMBER() OVER ({over} ORDER BY v) - 1 AS i, "  # noqa: S608
        f"COUNT(*) OVER ({over}) AS n FROM ({inner_sql}) AS source"
    )
    group_by = f" GROUP BY {cols} ORDER BY {cols}" if groups else ""
    picked = ", ".join(picks)
    return f"SELECT {lead}MAX(n), {picked} FROM ({ranked}) AS ranked{group_by}"  # noqa: S608


def _stat_names(measure: str) -> list[str]:
    return [f"{measure}_n", *(f"{measure}_p{round(f * 100)}" for f in FRACTIONS)]


def _grouped_percentiles(
    rows: QuerySet, *, groups: dict[str, Expression], values: dict[str, Expression]
) -> dict[tuple, dict[str, float | int | None]]:
    """Group key -> {<value>_n, <value>_p50, <value>_p90} (seconds) over `rows`, NULL
    values skipped; a group where a value is always NULL has n 0."""
    aliased = {f"group_{name}": expr for name, expr in groups.items()}
    keys = list(aliased)
    out: dict[tuple, dict] = {}
    if connection.vendor == "postgresql":
        aggregates = {}
        for name, expr in values.items():
            aggregates[f"{name}_n"] = Count(expr)
            for f in FRACTIONS:
                aggregates[f"{name}_p{round(f * 100)}"] = PercentileCont(expr, f)
        if not keys:
            return {(): rows.aggregate(**aggregates)}
        found = rows.annotate(**aliased).values(*keys).annotate(**aggregates).order_by(*keys)
        for row in found:
            out[tuple(row.pop(k) for k in keys)] = row
        return out
    for name, expr in values.items():
        inner = rows.annotate(**aliased, v=expr).filter(v__isnull=False).values_list(*keys, "v")
        sql, params = inner.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(percentile_sql(sql, groups=keys, fractions=FRACTIONS), params)
            for record in cursor.fetchall():
                key = tuple(record[: len(keys)])
                out.setdefault(key, {}).update(
                    zip(_stat_names(name), record[len(keys) :], strict=True)
                )
    for stats in out.values():
        for name in values:
            stats.setdefault(f"{name}_n", 0)
    return out


def _duration(measure_field: str) -> Seconds:
    return Seconds(F(measure_field), F("created_at"))


def _times(stats: dict | None, measure: str) -> dict:
    """{n, median_hours, p90_hours} of one measure (None when nothing got there)."""
    stats = stats or {}
    n = stats.get(f"{measure}_n") or 0
    p50, p90 = stats.get(f"{measure}_p50"), stats.get(f"{measure}_p90")
    return {
        "n": n,
        "median_hours": p50 / HOUR if n and p50 is not None else None,
        "p90_hours": p90 / HOUR if n and p90 is not None else None,
    }


def _week_of(value) -> datetime.date:
    # PostgreSQL answers an aware datetime in the zone; SQLite's raw SQL a text.
    if isinstance(value, str):
        return datetime.date.fromisoformat(value[:10])
    return value.date() if isinstance(value, datetime.datetime) else value


def _measured(rows: QuerySet, groups: dict[str, Expression]) -> dict[tuple, dict]:
    return _grouped_percentiles(
        rows, groups=groups, values={m: _duration(f) for m, f in MEASURES.items()}
    )


# --- response times --------------------------------------------------------------------------

DIMENSIONS = ("acuity", "week", "queue", "role")


def response_times(*, period: Period, by: str) -> list[dict]:
    """Time from receipt to first read, first response and close (median, 90th
    percentile, how many got there) per acuity, week, queue or role; with the items
    received and those answered within the SLA."""
    if by not in DIMENSIONS:
        raise ValueError(f"unknown dimension {by!r}")
    group = {
        "acuity": F("acuity"),
        "week": TruncWeek("created_at", tzinfo=period.tz),
        "queue": F("queue_id"),
        "role": F("queue__role"),
    }[by]
    items = period.items()
    stats = _measured(items, {by: group})
    counts = {
        row["key"]: row
        for row in items.annotate(key=group)
        .values("key")
        .annotate(items=Count("pk"), **_sla_counts(period.end))
        .order_by("key")
    }
    if by == "acuity":
        order = [(a, a.capitalize()) for a in ACUITIES]
    elif by == "week":
        order = [(w, f"{w:%G-W%V} ({w:%d %b})") for w in period.weeks()]
        stats = {(_week_of(k[0]),): v for k, v in stats.items()}
        counts = {_week_of(k): v for k, v in counts.items()}
    elif by == "queue":
        names = Queue.objects.filter(pk__in=list(counts)).order_by("role", "name")
        order = list(names.values_list("pk", "name"))
    else:
        order = [(r.value, r.label) for r in CLINICAL_ROLES]
    return [
        {
            "group": label,
            "items": counts.get(key, {}).get("items", 0),
            **{m: _times(stats.get((key,)), m) for m in MEASURES},
            "sla": _sla_share(counts.get(key, {})),
        }
        for key, label in order
    ]


def _sla_counts(now: datetime.datetime) -> dict:
    answered = Q(first_response_at__isnull=False)
    return {
        "within": Count("pk", filter=answered & Q(first_response_at__lte=F("due_at"))),
        # Decided: answered, or past due without an answer.
        "decided": Count("pk", filter=answered | Q(due_at__lt=now)),
    }


def _sla_share(counts: dict) -> dict:
    within, decided = counts.get("within", 0), counts.get("decided", 0)
    return {"within": within, "decided": decided, "share": within / decided if decided else None}


def acuity_weekly_series(*, period: Period) -> dict:
    """The chart: median hours from receipt to first response, one line per acuity, one
    point per week of the period (None for a week with no answered item)."""
    weeks = period.weeks()
    stats = _grouped_percentiles(
        period.items(),
        groups={"week": TruncWeek("created_at", tzinfo=period.tz), "acuity": F("acuity")},
        values={"first_response": _duration("first_response_at")},
    )
    by_key = {(_week_of(w), a): _times(s, "first_response") for (w, a), s in stats.items()}
    return {
        "weeks": [w.isoformat() for w in weeks],
        "series": {
            a: [(by_key.get((w, a)) or {}).get("median_hours") for w in weeks] for a in ACUITIES
        },
    }


# --- backlog -----------------------------------------------------------------------------------


def backlog(*, period: Period) -> dict:
    """Work not yet answered now (`period.end`): per queue and acuity, how many, how many
    overdue, and how old the oldest is (hours); with the totals."""
    now = period.end
    waiting = WorkItem.objects.filter(clinic_id__in=period.clinic_ids, status__in=UNANSWERED)
    rows = list(
        waiting.values("queue_id", "queue__name", "queue__role", "acuity")
        .annotate(
            open=Count("pk"),
            overdue=Count("pk", filter=Q(due_at__lt=now)),
            oldest=Min("created_at"),
        )
        .order_by("queue__role", "queue__name", "acuity_rank")
    )
    totals = waiting.aggregate(
        open=Count("pk"), overdue=Count("pk", filter=Q(due_at__lt=now)), oldest=Min("created_at")
    )

    def age(oldest):
        return (now - oldest).total_seconds() / HOUR if oldest else None

    return {
        "rows": [
            {
                "queue": r["queue__name"],
                "role": r["queue__role"],
                "acuity": r["acuity"],
                "open": r["open"],
                "overdue": r["overdue"],
                "oldest_hours": age(r["oldest"]),
            }
            for r in rows
        ],
        "open": totals["open"],
        "overdue": totals["overdue"],
        "oldest_hours": age(totals["oldest"]),
    }


# --- who answered ------------------------------------------------------------------------------


def who_answered(*, period: Period) -> dict:
    """Of the items received in the period and answered, the share first answered by each
    role (the role the responder held when answering), and the physician / everyone else
    split the study reports as 27% / 73%."""
    counts = dict(
        period.items()
        .filter(first_response_at__isnull=False)
        .values("first_response_role")
        .annotate(n=Count("pk"))
        .values_list("first_response_role", "n")
    )
    answered = sum(counts.values())  # a handful of roles, not rows

    def share(n: int) -> float | None:
        return n / answered if answered else None

    physician = counts.get(Role.PHYSICIAN, 0)
    return {
        "answered": answered,
        "by_role": [
            {
                "role": r.value,
                "label": r.label,
                "count": counts.get(r.value, 0),
                "share": share(counts.get(r.value, 0)),
            }
            for r in CLINICAL_ROLES
        ],
        "physician_share": share(physician),
        "others_share": share(answered - physician),
    }


def moves_between_roles(*, period: Period) -> dict:
    """Items received in the period that moved to another role's queue (a reassignment or
    an escalation whose queues' roles differ), how many moves, and by which pair."""
    moves = WorkEvent.objects.filter(
        work_item__in=period.items(),
        kind__in=[WorkEvent.Kind.REASSIGNED, WorkEvent.Kind.ESCALATED],
        from_queue__isnull=False,
        to_queue__isnull=False,
    ).exclude(from_queue__role=F("to_queue__role"))
    pairs = list(
        moves.values("from_queue__role", "to_queue__role")
        .annotate(n=Count("pk"))
        .order_by("-n", "from_queue__role", "to_queue__role")
    )
    totals = moves.aggregate(moves=Count("pk"), items=Count("work_item", distinct=True))
    return {
        "items": period.items().count(),
        "items_moved": totals["items"],
        "moves": totals["moves"],
        "by_pair": [
            {"from": p["from_queue__role"], "to": p["to_queue__role"], "moves": p["n"]}
            for p in pairs
        ],
    }


# --- SLA breaches ------------------------------------------------------------------------------


def breaches_per_week(*, period: Period) -> dict:
    """Items of the clinics whose SLA was breached, by ISO week of the breach and acuity
    (`breached_at`: a reopen clears it, so a reopened item counts only a new breach)."""
    weeks = period.weeks()
    counts = {
        (_week_of(row["week"]), row["acuity"]): row["n"]
        for row in WorkItem.objects.filter(
            clinic_id__in=period.clinic_ids,
            breached_at__gte=period.start,
            breached_at__lt=period.end,
        )
        .annotate(week=TruncWeek("breached_at", tzinfo=period.tz))
        .values("week", "acuity")
        .annotate(n=Count("pk"))
        .order_by("week")
    }
    return {
        "weeks": [w.isoformat() for w in weeks],
        "series": {a: [counts.get((w, a), 0) for w in weeks] for a in ACUITIES},
    }


# --- fairness ----------------------------------------------------------------------------------


def age_band(birth_date: str, at: str) -> Case:
    """The patient's age band on the date of `at` (a datetime field path)."""
    return Case(
        When(**{f"{birth_date}__isnull": True}, then=Value("unknown")),
        When(**{f"{birth_date}__gt": YearsBefore(F(at), 18)}, then=Value("under 18")),
        When(**{f"{birth_date}__gt": YearsBefore(F(at), 65)}, then=Value("18-64")),
        default=Value("65+"),
        output_field=CharField(),
    )


FAIRNESS_GROUPS = {
    "language": (
        "conversation__patient__preferred_language",
        "message__conversation__patient__preferred_language",
    ),
    "age_band": (
        ("conversation__patient__birth_date", "created_at"),
        ("message__conversation__patient__birth_date", "message__created_at"),
    ),
}


def _fairness_expr(dimension: str, *, on_items: bool) -> Expression:
    spec = FAIRNESS_GROUPS[dimension][0 if on_items else 1]
    return age_band(*spec) if dimension == "age_band" else F(spec)


def fairness(*, period: Period) -> dict:
    """Response times and correction rates by preferred language and by age band, against
    the same figures over every item of the period. A group's measure is marked `gap` when
    its median is more than FAIRNESS_GAP above the overall median (the correction rate
    likewise), if the group has FAIRNESS_MIN_ITEMS items (classified messages) or more.
    Correction rate: the share of the period's classified messages with at least one
    LabelCorrection."""
    items = period.items()
    overall_stats = _measured(items, {})
    overall = {m: _times(overall_stats.get(()), m) for m in MEASURES}
    classified = Classification.objects.filter(
        message__clinic_id__in=period.clinic_ids,
        message__created_at__gte=period.start,
        message__created_at__lt=period.end,
    )
    # A rejected correction was a mistaken one: the model was right.
    corrected = Exists(
        LabelCorrection.objects.filter(message=OuterRef("message_id")).exclude(
            review_status=LabelCorrection.ReviewStatus.REJECTED
        )
    )
    correction_counts = {"classified": Count("pk"), "corrected": Count("pk", filter=corrected)}
    overall_corrections = _rate(classified.aggregate(**correction_counts))
    overall["items"] = items.count()
    overall["corrections"] = overall_corrections
    result = {"overall": overall, "gap": FAIRNESS_GAP, "min_items": FAIRNESS_MIN_ITEMS}
    for dimension in FAIRNESS_GROUPS:
        group = _fairness_expr(dimension, on_items=True)
        stats = _measured(items, {dimension: group})
        sizes = dict(
            items.annotate(key=group).values("key").annotate(n=Count("pk")).values_list("key", "n")
        )
        corrections = {
            row["key"]: _rate(row)
            for row in classified.annotate(key=_fairness_expr(dimension, on_items=False))
            .values("key")
            .annotate(**correction_counts)
            .order_by("key")
        }
        keys = sorted(set(sizes) | set(corrections), key=_group_order(dimension))
        rows = []
        for key in keys:  # one row per language or band: a handful, not the items
            row = {"group": key, "items": sizes.get(key, 0)}
            for m in MEASURES:
                times = _times(stats.get((key,)), m)
                times["gap"] = _above(times["median_hours"], overall[m]["median_hours"], times["n"])
                row[m] = times
            rate = corrections.get(key, _rate({}))
            rate["gap"] = _above(rate["rate"], overall_corrections["rate"], rate["classified"])
            row["corrections"] = rate
            row["flagged"] = rate["gap"] or any(row[m]["gap"] for m in MEASURES)
            rows.append(row)
        result[dimension] = rows
    return result


def _group_order(dimension: str):
    if dimension == "age_band":
        return lambda key: AGE_BANDS.index(key) if key in AGE_BANDS else len(AGE_BANDS)
    return lambda key: key or ""


def _rate(counts: dict) -> dict:
    classified, corrected = counts.get("classified", 0), counts.get("corrected", 0)
    return {
        "classified": classified,
        "corrected": corrected,
        "rate": corrected / classified if classified else None,
    }


def _above(value: float | None, reference: float | None, n: int) -> bool:
    if value is None or reference is None or n < FAIRNESS_MIN_ITEMS:
        return False
    return value > reference * (1 + FAIRNESS_GAP)


# --- everything at once (the page, the CSV and the API) ---------------------------------------


def dashboard(*, period: Period) -> dict:
    return {
        "period": {
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "time_zone": str(period.tz),
        },
        "response_times": {by: response_times(period=period, by=by) for by in DIMENSIONS},
        "acuity_weekly_series": acuity_weekly_series(period=period),
        "backlog": backlog(period=period),
        "who_answered": who_answered(period=period),
        "moves_between_roles": moves_between_roles(period=period),
        "breaches_per_week": breaches_per_week(period=period),
        "fairness": fairness(period=period),
    }
