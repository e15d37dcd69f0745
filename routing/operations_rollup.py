"""The operations dashboard's figures as the page, the CSV and the API get them: stored
for large clinics, live for the others.

Over the last 12 weeks of a clinic with a million items a year the live aggregates of
routing.operations take seconds (bench/dashboard.py: about 12 s on PostgreSQL), far
above what a page may take. So beat stores each large clinic's figures
(`OperationsSnapshot`, every OPERATIONS_SNAPSHOT_INTERVAL_SECONDS on the slow queue) and
the page reads them, with the backlog always live (work waiting now; an index makes it
milliseconds). The stored figures are the live functions' output, not an approximation:
they are only as old as the snapshot, which the page says. A small clinic (fewer than
OPERATIONS_SNAPSHOT_MIN_ITEMS items in the period) is computed live on every view; a
large one whose snapshot is missing or stale is computed live once and stored, so a
stalled beat costs one slow view per OPERATIONS_SNAPSHOT_MAX_AGE_SECONDS, not every view.
"""

import datetime
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count

from accounts.models import Clinic
from routing import operations
from routing.models import OperationsSnapshot, WorkItem


def dashboard_for(*, clinic: Clinic, now: datetime.datetime) -> dict:
    """The figures of `clinic` over the weeks up to `now`, with `as_of`: None when
    computed now, else when the stored figures were computed (the backlog is live)."""
    period = operations.Period.last_weeks(clinics=[clinic], now=now)
    max_age = datetime.timedelta(seconds=settings.OPERATIONS_SNAPSHOT_MAX_AGE_SECONDS)
    snapshot = OperationsSnapshot.objects.filter(
        clinic=clinic, period_start=period.start, computed_at__gte=now - max_age
    ).first()
    if snapshot is None:
        figures, items, seconds = _compute(period)
        if items >= settings.OPERATIONS_SNAPSHOT_MIN_ITEMS:
            _store(clinic=clinic, period=period, figures=figures, items=items, seconds=seconds)
        return {**figures, "as_of": None}
    return {
        **snapshot.figures,
        "backlog": operations.backlog(period=period),
        "as_of": snapshot.computed_at,
    }


def refresh_snapshots(*, now: datetime.datetime) -> int:
    """Store the figures of every clinic large enough to need it; the number stored."""
    since = now - datetime.timedelta(weeks=operations.WEEKS + 1)
    large = (
        WorkItem.objects.filter(created_at__gte=since)
        .values("clinic")
        .annotate(n=Count("pk"))
        .filter(n__gte=settings.OPERATIONS_SNAPSHOT_MIN_ITEMS)
        .values_list("clinic", flat=True)
    )
    stored = 0
    for clinic in Clinic.objects.filter(pk__in=list(large)).order_by("pk"):
        period = operations.Period.last_weeks(clinics=[clinic], now=now)
        figures, items, seconds = _compute(period)
        _store(clinic=clinic, period=period, figures=figures, items=items, seconds=seconds)
        stored += 1
    return stored


def _compute(period: operations.Period) -> tuple[dict, int, float]:
    started = time.perf_counter()
    figures = operations.dashboard(period=period)
    return figures, figures["fairness"]["overall"]["items"], time.perf_counter() - started


def _store(
    *, clinic: Clinic, period: operations.Period, figures: dict, items: int, seconds: float
) -> None:
    values = {
        "computed_at": period.end,
        "period_start": period.start,
        "items": items,
        "seconds": seconds,
        "figures": figures,
    }
    try:
        with transaction.atomic():
            OperationsSnapshot.objects.update_or_create(clinic=clinic, defaults=values)
    except IntegrityError:
        # Two views of a clinic without a snapshot both computed and stored: the other
        # one's figures are as good as ours.
        pass
