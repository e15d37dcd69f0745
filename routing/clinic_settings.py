"""Reads of a clinic's routing configuration: its rules, SLA policies, business calendar,
auto-reply wording, on-call staff and who holds which role."""

import datetime
import logging
from dataclasses import dataclass
from functools import lru_cache

import holidays

from accounts.configuration import PerClinicCache
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
    WebhookSubscription,
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


@dataclass(frozen=True)
class ClinicConfiguration:
    """What routing reads of a clinic for every message, read once per configuration
    version (accounts.configuration) and shared by every message of the clinic in this
    process until a change gives the clinic a new version. Read only: nobody saves the
    model instances it holds."""

    clinic_routing: ClinicRouting
    routing_rules: tuple
    queue_roles: dict[int, str]
    queues: dict[int, Queue]
    default_queues: dict[str, Queue]
    sla_rules: tuple[sla.SlaRule, ...]
    business_calendar: sla.BusinessCalendar
    auto_replies: dict[tuple[str, str], str]
    webhook_subscriptions: tuple[WebhookSubscription, ...]


def _read_configuration(clinic: Clinic) -> ClinicConfiguration:
    routing_settings = ClinicRouting.objects.filter(clinic=clinic).first() or ClinicRouting(
        clinic=clinic
    )
    windows: dict[int, list[tuple[datetime.time, datetime.time]]] = {}
    for hours in BusinessHours.objects.filter(clinic=clinic):
        windows.setdefault(hours.weekday, []).append((hours.opens_at, hours.closes_at))
    queues = list(Queue.objects.filter(clinic=clinic).order_by("pk"))
    default_queues: dict[str, Queue] = {}
    for queue in queues:
        if queue.is_role_default:
            default_queues.setdefault(queue.role, queue)
    return ClinicConfiguration(
        clinic_routing=routing_settings,
        routing_rules=tuple(
            rule.as_rule() for rule in RoutingRule.objects.filter(clinic=clinic, enabled=True)
        ),
        queue_roles={queue.pk: queue.role for queue in queues},
        queues={queue.pk: queue for queue in queues},
        default_queues=default_queues,
        sla_rules=tuple(
            sla.SlaRule(
                acuity=policy.acuity,
                target=sla.SlaTarget(sla.Clock(policy.clock), policy.amount),
                role=policy.role or None,
            )
            for policy in SlaPolicy.objects.filter(clinic=clinic)
        ),
        business_calendar=sla.BusinessCalendar(
            time_zone=clinic.time_zone,
            windows=windows,
            holidays=_public_holidays(
                routing_settings.holiday_country, routing_settings.holiday_subdivision
            ),
            closures=frozenset(
                ClinicClosure.objects.filter(clinic=clinic).values_list("date", flat=True)
            ),
        ),
        auto_replies={
            (template.name, template.language): template.body
            for template in AutoReplyTemplate.objects.filter(clinic=clinic)
        },
        webhook_subscriptions=tuple(
            WebhookSubscription.objects.filter(clinic=clinic, active=True).order_by("pk")
        ),
    )


_configurations = PerClinicCache(_read_configuration)


def configuration(*, clinic: Clinic) -> ClinicConfiguration:
    return _configurations.get(clinic)


def forget_configurations() -> None:
    """Drop this process's cached configurations (tests that reuse clinic ids)."""
    _configurations.clear()


def clinic_routing(*, clinic: Clinic) -> ClinicRouting:
    return configuration(clinic=clinic).clinic_routing


@lru_cache(maxsize=64)
def _public_holidays(country: str, subdivision: str):
    if not country:
        return frozenset()
    return holidays.country_holidays(country, subdiv=subdivision or None)


def business_calendar(*, clinic: Clinic) -> sla.BusinessCalendar:
    return configuration(clinic=clinic).business_calendar


def sla_rules(*, clinic: Clinic) -> list[sla.SlaRule]:
    return list(configuration(clinic=clinic).sla_rules)


def routing_rules(*, clinic: Clinic) -> list:
    return list(configuration(clinic=clinic).routing_rules)


def queue_roles(*, clinic: Clinic) -> dict[int, str]:
    return dict(configuration(clinic=clinic).queue_roles)


def role_default_queue(*, clinic: Clinic, role: str) -> Queue | None:
    return configuration(clinic=clinic).default_queues.get(role)


def webhook_subscriptions(*, clinic: Clinic) -> tuple[WebhookSubscription, ...]:
    return configuration(clinic=clinic).webhook_subscriptions


def auto_reply_text(*, clinic: Clinic, name: str, language: str) -> tuple[str, str]:
    """(language, text) of a clinic's automatic reply: the clinic's own wording in the
    patient's language, else ours in that language, else English."""
    language = (language or "en").lower().split("-")[0]
    own_wording = configuration(clinic=clinic).auto_replies
    for lang in dict.fromkeys((language, "en")):
        own = own_wording.get((name, lang))
        if own is not None:
            return _with_after_hours_line(own, clinic=clinic, language=lang)
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
