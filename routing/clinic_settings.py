"""Reads of a clinic's routing configuration: its rules, SLA policies, business calendar,
auto-reply wording, on-call staff and who holds which role."""

import datetime
import logging
from functools import lru_cache

import holidays

from accounts.models import Absence, Clinic, Membership, Role, User
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
)

logger = logging.getLogger(__name__)
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


def queue_names(*, clinic: Clinic) -> dict[int, str]:
    return dict(Queue.objects.filter(clinic=clinic).values_list("id", "name"))


def default_queue_ids(*, clinic: Clinic) -> dict[str, int]:
    return dict(Queue.objects.filter(clinic=clinic, is_role_default=True).values_list("role", "id"))
