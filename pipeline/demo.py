"""Demo data: two clinics, staff for every role, about 200 varied messages, routed."""

import datetime
import random
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from accounts.models import CLINIC_ADMINISTRATORS_GROUP, Clinic, Membership, Role, User
from accounts.services import create_integration
from billing.models import EVisit, PatientVisit
from billing.services import log_minutes, recompute_evisit
from inbox.models import Conversation, Patient
from inbox.services import IncomingMessage, PatientDetails, receive_message, record_evisit_consent
from pipeline.demo_operations import WEEKS, simulate_operations_history
from routing.models import BusinessHours, ClinicRouting, OnCallShift, Queue, RoutingRule, WorkItem
from routing.services import ensure_default_queues
from triage.ml.corpus import read_labeled_files

DEMO_PASSWORD = "demo-clinic-2026"  # noqa: S105 - demo only, printed for the user
DEMO_CLINICS = [
    ("oncology-pasadena", "Oncology - Pasadena", "onc", "oncology"),
    ("primary-care-downtown", "Primary Care - Downtown", "pc", "primary_care"),
]
FIRST_NAMES = [
    "Maria",
    "James",
    "Linh",
    "Aisha",
    "Robert",
    "Guadalupe",
    "Wei",
    "Fatima",
    "David",
    "Olga",
    "Samuel",
    "Priya",
    "Jose",
    "Ruth",
    "Kenji",
    "Carmen",
]
LAST_NAMES = [
    "Garcia",
    "Nguyen",
    "Johnson",
    "Okafor",
    "Smith",
    "Hernandez",
    "Chen",
    "Patel",
    "Kowalski",
    "Lopez",
    "Brown",
    "Tanaka",
    "Rossi",
    "Ali",
]
MESSAGES_PER_CLINIC = 100
DEMO_CREDENTIALS = {Role.PHYSICIAN: "MD", Role.NURSE: "RN", Role.MA: "CMA"}


@dataclass(frozen=True)
class DemoLogin:
    clinic: str
    role: str
    username: str


def demo_logins() -> list[DemoLogin]:
    return [
        DemoLogin(clinic=name, role=role.value, username=f"{prefix}-{role.value}")
        for _slug, name, prefix, _kind in DEMO_CLINICS
        for role in Role
    ]


def demo_loaded() -> bool:
    return Clinic.objects.filter(slug=DEMO_CLINICS[0][0]).exists()


def load_demo_data(*, progress: Callable[[str], None]) -> None:
    rng = random.Random(2026)  # noqa: S311 - reproducible demo data, not security
    corpus_dir = settings.TRIAGE_CORPUS_DIR
    portal_rows = read_labeled_files(sorted(corpus_dir.glob("portal_*.jsonl")))
    now = timezone.now()
    administrators = Group.objects.get(name=CLINIC_ADMINISTRATORS_GROUP)
    for slug, name, prefix, kind in DEMO_CLINICS:
        with transaction.atomic():
            clinic = Clinic.objects.create(slug=slug, name=name, time_zone="America/Los_Angeles")
            ensure_default_queues(clinic=clinic)
            # The portal posts the demo's messages, as in a clinic (its token: the admin).
            portal = create_integration(clinic=clinic, name="Patient portal")
            for role in Role:
                user = User.objects.create_user(
                    username=f"{prefix}-{role.value}",
                    password=DEMO_PASSWORD,
                    first_name=role.label,
                    last_name=name,
                    is_staff=role == Role.ADMIN,  # the admin, scoped to this clinic
                    email=f"{prefix}-{role.value}@demo.clinic",
                )
                Membership.objects.create(
                    user=user, clinic=clinic, role=role, credential=DEMO_CREDENTIALS.get(role, "")
                )
                if role == Role.ADMIN:
                    user.groups.add(administrators)
            configure_demo_routing(clinic=clinic, prefix=prefix, kind=kind, now=now)
        wanted = [r for r in portal_rows if r.clinic_type in (kind, "")]
        rows = rng.sample(wanted, min(MESSAGES_PER_CLINIC, len(wanted)))
        for index, row in enumerate(rows, start=1):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            receive_message(
                clinic=clinic,
                source=portal,
                incoming=IncomingMessage(
                    external_id=f"demo-{prefix}-{index:04d}",
                    patient=PatientDetails(
                        mrn=f"{prefix.upper()}{100000 + index}",
                        name=f"{first} {last}",
                        birth_date=datetime.date(rng.randint(1940, 2005), rng.randint(1, 12), 15),
                        preferred_language=row.language,
                        on_chemotherapy=row.on_chemotherapy,
                        # 555-01xx: numbers reserved for fiction, never a real patient.
                        phone=f"(626) 555-01{index % 100:02d}",
                    ),
                    subject=row.subject,
                    body=row.body,
                    category=row.category,
                    sent_at=now - datetime.timedelta(minutes=rng.randint(1, 60 * 48)),
                ),
            )
            if index % 25 == 0:
                progress(f"{name}: {index}/{len(rows)} messages received and routed")
        simulate_clinic_work(clinic=clinic, prefix=prefix, rng=rng, now=now)
        answered = simulate_operations_history(clinic=clinic, prefix=prefix, rng=rng, now=now)
        progress(f"{name}: {answered} items answered over {WEEKS} simulated weeks")
        share = evisit_candidate_share(clinic=clinic)
        progress(
            f"{name}: clinician time simulated; e-visit candidates {share:.0%} of conversations"
        )


def configure_demo_routing(*, clinic: Clinic, prefix: str, kind: str, now) -> None:
    """Business hours, a custom pool with its rule, and an on-call physician, so the demo
    shows rules, business-hour due times and emergency alerts at work."""
    ClinicRouting.objects.create(
        clinic=clinic,
        holiday_country="US",
        holiday_subdivision="CA",
        on_call_fallback_email=f"{prefix}-oncall@demo.clinic",
    )
    # Oncology runs a split shift (closed over lunch); primary care runs straight through.
    shifts = (
        [(datetime.time(8), datetime.time(12)), (datetime.time(13), datetime.time(17))]
        if kind == "oncology"
        else [(datetime.time(8), datetime.time(18))]
    )
    for weekday in range(5):
        for opens, closes in shifts:
            BusinessHours.objects.create(
                clinic=clinic, weekday=weekday, opens_at=opens, closes_at=closes
            )
    refills = Queue.objects.create(clinic=clinic, role=Role.MA, name="Pharmacy refills")
    RoutingRule.objects.create(
        clinic=clinic,
        name="Routine refills to the pharmacy pool",
        order=20,
        conditions={"category": ["Medication refill", "Refill"], "acuity": "routine"},
        action={"queue": refills.pk},
    )
    if kind == "oncology":
        navigators = Queue.objects.create(
            clinic=clinic, role=Role.NURSE, name="Oncology nurse navigators"
        )
        RoutingRule.objects.create(
            clinic=clinic,
            name="Ports, lines and chemo side effects",
            order=10,
            conditions={"keyword": ["port", "picc", "chemo", "quimio", "infusion"]},
            action={"queue": navigators.pk},
        )
    OnCallShift.objects.create(
        clinic=clinic,
        clinician=User.objects.get(username=f"{prefix}-{Role.PHYSICIAN.value}"),
        starts_at=now - datetime.timedelta(hours=1),
        ends_at=now + datetime.timedelta(days=30),
    )


def simulate_clinic_work(*, clinic: Clinic, prefix: str, rng: random.Random, now) -> None:
    """Clinician time on the demo conversations, patient visits and consent, so the
    billing screens have something real to compute. The mix is a simulation: a
    physician spends 2-25 minutes on what reached the physician pool, a nurse 2-12 on
    nurse work; 90% of patients consented, 85% were seen before, 8% have an office visit
    within a week of their message."""

    users = {
        role: User.objects.get(username=f"{prefix}-{role.value}")
        for role in (Role.PHYSICIAN, Role.NURSE)
    }
    for patient in Patient.objects.filter(clinic=clinic):
        if rng.random() < 0.90:
            record_evisit_consent(
                patient=patient, at=now - datetime.timedelta(days=rng.randint(30, 700))
            )
        if rng.random() < 0.85:
            PatientVisit.objects.create(
                patient=patient, on=(now - datetime.timedelta(days=rng.randint(30, 400))).date()
            )
        if rng.random() < 0.08:
            PatientVisit.objects.create(
                patient=patient, on=(now + datetime.timedelta(days=rng.randint(-6, 6))).date()
            )
    for item in WorkItem.objects.filter(clinic=clinic).select_related("queue"):
        if item.queue.role == Role.PHYSICIAN:
            log_minutes(actor=users[Role.PHYSICIAN], item_id=item.pk, minutes=rng.randint(2, 25))
        elif item.queue.role == Role.NURSE:
            log_minutes(actor=users[Role.NURSE], item_id=item.pk, minutes=rng.randint(2, 12))
        recompute_evisit(conversation_id=item.conversation_id)


def evisit_candidate_share(*, clinic: Clinic) -> float:
    conversations = Conversation.objects.filter(clinic=clinic).count()
    flagged = EVisit.objects.filter(
        clinic=clinic, status__in=[EVisit.Status.CANDIDATE, EVisit.Status.READY]
    ).count()
    return flagged / conversations if conversations else 0.0
