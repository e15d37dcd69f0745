"""Liveness and readiness: is this deployment able to take a message and route it?

Checks report counts, ages and plain reasons only (the endpoints need no login, so they
must carry no PHI). Here, above inbox and triage, because readiness needs both."""

import datetime
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from config.celery import app as celery_app
from inbox import selectors as inbox_selectors
from triage.models import ModelVersion

# A load balancer or orchestrator gives a probe a few seconds; a broker that does not
# answer in this time counts as down rather than holding the probe open.
BROKER_TIMEOUT_SECONDS = 2


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, Check]
    unrouted_count: int | None
    oldest_unrouted_seconds: int | None

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks.values())

    def as_json(self) -> dict:
        return {
            "status": "ok" if self.ok else "unavailable",
            "failing": [name for name, check in self.checks.items() if not check.ok],
            "checks": {name: asdict(check) for name, check in self.checks.items()},
            "unrouted": {
                "count": self.unrouted_count,
                "oldest_age_seconds": self.oldest_unrouted_seconds,
                "alert_after_seconds": settings.UNROUTED_ALERT_MINUTES * 60,
            },
        }


def readiness(*, now: datetime.datetime | None = None) -> Readiness:
    now = now or timezone.now()
    checks = {"database": database_check(), "broker": broker_check()}
    unrouted = None
    if checks["database"].ok:
        checks["model"] = model_check()
        unrouted = inbox_selectors.unrouted_messages()
        checks["unrouted"] = unrouted_check(unrouted=unrouted, now=now)
    else:
        # Both live in the database: saying why once is clearer than three failures.
        checks["model"] = checks["unrouted"] = Check(ok=False, detail="database unavailable")
    oldest = unrouted and unrouted.oldest_stored_at
    return Readiness(
        checks=checks,
        unrouted_count=unrouted.count if unrouted else None,
        oldest_unrouted_seconds=int((now - oldest).total_seconds()) if oldest else None,
    )


def database_check() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return Check(ok=False, detail=f"unreachable ({type(exc).__name__})")
    return Check(ok=True, detail=connection.vendor)


def broker_check() -> Check:
    if not settings.CELERY_BROKER_URL:
        return Check(ok=True, detail="in-process (no broker configured)")
    try:
        with celery_app.connection_for_read(
            settings.CELERY_BROKER_URL,
            connect_timeout=BROKER_TIMEOUT_SECONDS,
            transport_options={
                "socket_timeout": BROKER_TIMEOUT_SECONDS,
                "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
                "max_retries": 0,
            },
        ) as conn:
            # One attempt, no retry loop: a probe must answer, not wait for the broker.
            conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
    except Exception as exc:  # any failure to reach it is "down", whatever the transport
        return Check(ok=False, detail=f"unreachable ({type(exc).__name__})")
    return Check(ok=True, detail="answers")


def model_check() -> Check:
    active = ModelVersion.objects.filter(is_active=True).values_list("name", flat=True).first()
    if active is None:
        return Check(ok=False, detail="no active triage model")
    return Check(ok=True, detail=active)


def unrouted_check(*, unrouted: inbox_selectors.UnroutedMessages, now: datetime.datetime) -> Check:
    if unrouted.oldest_stored_at is None:
        return Check(ok=True, detail="none waiting")
    age = int((now - unrouted.oldest_stored_at).total_seconds())
    limit = settings.UNROUTED_ALERT_MINUTES * 60
    detail = f"{unrouted.count} waiting, oldest {age} s (limit {limit} s)"
    return Check(ok=age < limit, detail=detail)


@dataclass(frozen=True)
class ClinicBacklog:
    clinic: str
    count: int
    oldest_age_seconds: int | None
    late: bool


def clinic_backlogs(*, clinics, now: datetime.datetime | None = None) -> list[ClinicBacklog]:
    """The unrouted messages of each of `clinics` (counts and ages, no PHI), every clinic
    listed, the ones with nothing waiting too, so a quiet clinic reads as "0", not absent."""
    now = now or timezone.now()
    waiting = inbox_selectors.unrouted_messages_by_clinic(stored_before=now)
    limit = settings.UNROUTED_ALERT_MINUTES * 60
    backlogs = []
    for clinic in clinics.order_by("name"):
        unrouted = waiting.get(clinic.pk)
        oldest = unrouted.oldest_stored_at if unrouted else None
        age = int((now - oldest).total_seconds()) if oldest else None
        backlogs.append(
            ClinicBacklog(
                clinic=clinic.name,
                count=unrouted.count if unrouted else 0,
                oldest_age_seconds=age,
                late=age is not None and age >= limit,
            )
        )
    return backlogs
