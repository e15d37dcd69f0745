import datetime
from functools import lru_cache

import holidays
from django.db.models import QuerySet
from django.http import Http404

from accounts.models import Absence, Clinic, Membership, Role, User
from accounts.selectors import clinics_for_user
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
    return items.select_related("queue", "message", "claimed_by").order_by(
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
