"""Reads for the billing team. Only people with the billing role in a clinic see its
e-visits; everyone else gets 404 (never a hint that the page exists). The reads that show
a patient's data to someone (the e-visit list, an e-visit record, a claims file) write it
to the access log themselves, told what is shown (a PatientDataAccess.What)."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum
from django.http import Http404

from accounts.models import Clinic, Membership, Role, User
from accounts.selectors import clinics_for_user
from billing.models import ClaimExport, EVisit, FeeSchedule, TimeEntry
from inbox.audit import record_patient_data_access, record_patient_data_accesses
from inbox.models import Conversation, Patient
from routing.clinic_settings import membership_role
from routing.selectors import refuse_unless_works

# The list's default filter: what the billing team has to look at.
TO_REVIEW = "to_review"
TO_REVIEW_STATUSES = (EVisit.Status.READY, EVisit.Status.CANDIDATE)
# Every value the list's status filter takes (screen and API refuse anything else).
STATUS_FILTERS = frozenset({TO_REVIEW, "all", *EVisit.Status.values})
# The list (screen and API) shows the newest e-visits up to this many; filters narrow it.
EVISIT_LIST_LIMIT = 500


def billing_clinics(*, user: User) -> QuerySet[Clinic]:
    if not user.is_authenticated:
        return Clinic.objects.none()
    return Clinic.objects.filter(memberships__user=user, memberships__role=Role.BILLING).distinct()


def require_billing(*, user: User) -> QuerySet[Clinic]:
    clinics = billing_clinics(user=user)
    if not clinics.exists():
        raise Http404("not found")
    return clinics


def evisits_for_billing(
    *,
    user: User,
    status: str | None = None,
    clinic_id: int | None = None,
    code: str | None = None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
) -> QuerySet[EVisit]:
    # The ids, not a subquery: one clinic reads as `clinic_id = X`, a range of the index
    # (clinic, window_start, id) walked newest first.
    clinic_ids = list(require_billing(user=user).values_list("id", flat=True))
    items = EVisit.objects.filter(clinic_id__in=clinic_ids)
    if status == TO_REVIEW:
        items = items.filter(status__in=TO_REVIEW_STATUSES)
    elif status and status != "all":
        items = items.filter(status=status)
    if clinic_id:
        items = items.filter(clinic_id=clinic_id)
    if code:
        items = items.filter(code=code)
    if date_from:
        items = items.filter(service_date__gte=date_from)
    if date_to:
        items = items.filter(service_date__lte=date_to)
    return items.select_related(
        "clinic", "conversation__patient", "rendering_clinician", "reviewed_by"
    ).order_by("-window_start", "-id")


def evisit_list(
    *,
    user: User,
    viewed_as: str,
    status: str | None = None,
    clinic_id: int | None = None,
    code: str | None = None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
    limit: int = EVISIT_LIST_LIMIT,
) -> list[EVisit]:
    """The e-visit list as shown to `user` (filters as evisits_for_billing): the newest
    `limit`. Its patients are written to the access log as `viewed_as`, one row per
    patient pointing at their first e-visit on it: only the rows returned, not the rest
    of the filter (the totals count those, naming no one)."""
    shown = list(
        evisits_for_billing(
            user=user,
            status=status,
            clinic_id=clinic_id,
            code=code,
            date_from=date_from,
            date_to=date_to,
        )[:limit]
    )
    record_patient_data_accesses(
        user=user, what=viewed_as, shown=[(e.conversation.patient, e.pk) for e in shown]
    )
    return shown


def access_evisit(*, user: User, evisit_id: int, viewed_as: str) -> EVisit:
    """One e-visit of the user's billing clinics (else 404, logging nothing), written to
    the access log as `viewed_as`."""
    evisit = evisits_for_billing(user=user).filter(pk=evisit_id).first()
    if evisit is None:
        raise Http404("not found")
    record_patient_data_access(
        user=user, patient=evisit.conversation.patient, what=viewed_as, object_id=evisit.pk
    )
    return evisit


def fee_for(*, code: str, on: datetime.date | None, payer: str = "") -> Decimal | None:
    """The schedule's amount for a code on a date: the payer's own row first, else the
    default schedule."""
    if not code or on is None:
        return None
    for wanted in dict.fromkeys((payer, "")):
        fee = (
            FeeSchedule.objects.filter(code=code, payer=wanted, effective_from__lte=on)
            .exclude(effective_to__lt=on)
            .order_by("-effective_from")
            .first()
        )
        if fee is not None:
            return fee.amount
    return None


def evisit_totals(*, evisits: QuerySet[EVisit]) -> dict:
    totals = evisits.aggregate(count=Count("id"), amount=Sum("amount"))
    return {"count": totals["count"], "amount": totals["amount"] or Decimal(0)}


def exports_within(*, clinics: QuerySet[Clinic]) -> QuerySet[ClaimExport]:
    """Claims files whose every e-visit belongs to one of these clinics. A file names
    every patient in it, so someone who may not see one of its clinics may not have it,
    even when they may see the others."""
    return (
        ClaimExport.objects.filter(evisits__clinic__in=clinics)
        .exclude(evisits__clinic__in=Clinic.objects.exclude(pk__in=clinics))
        .distinct()
    )


def access_export(*, user: User, export_id: int, viewed_as: str) -> ClaimExport:
    """A claims file the user may have (else 404, logging nothing), written to the access
    log as `viewed_as` for every patient in it (claims_file_shown)."""
    export = exports_within(clinics=require_billing(user=user)).filter(pk=export_id).first()
    if export is None:
        raise Http404("not found")
    claims_file_shown(user=user, export=export, viewed_as=viewed_as)
    return export


def claims_file_shown(*, user: User, export: ClaimExport, viewed_as: str) -> None:
    """Writes a claims file handed to someone (made now or downloaded again) to the access
    log: one row per patient in the file. object_id is the export, not an e-visit: its
    file is kept, so the privacy officer sees exactly what left and every patient in it.
    access_export calls it; the export screen calls it for the file it has just made."""
    record_patient_data_accesses(
        user=user,
        what=viewed_as,
        shown=[(patient, export.pk) for patient in patients_in_export(export=export)],
    )


def patients_in_export(*, export: ClaimExport) -> list[Patient]:
    """Every patient the claims file names, once per e-visit in it (only the fields the
    access log needs are loaded)."""
    return [
        e.conversation.patient
        for e in export.evisits.select_related("conversation__patient").only(
            "conversation__patient__id", "conversation__patient__clinic"
        )
    ]


def recent_exports(*, clinics: QuerySet[Clinic], limit: int = 10) -> QuerySet[ClaimExport]:
    return (
        exports_within(clinics=clinics).select_related("created_by").order_by("-created_at")[:limit]
    )


def rendering_npis(*, evisits: list[EVisit]) -> dict[int, str]:
    """NPI of each e-visit's rendering clinician in its clinic, in one query."""
    clinicians = {e.rendering_clinician_id for e in evisits if e.rendering_clinician_id}
    npis = {
        (m.user_id, m.clinic_id): m.npi
        for m in Membership.objects.filter(user_id__in=clinicians).only(
            "user_id", "clinic_id", "npi"
        )
    }
    return {e.pk: npis.get((e.rendering_clinician_id, e.clinic_id), "") for e in evisits}


@dataclass(frozen=True)
class ExportProblem:
    evisit: EVisit
    missing: tuple[str, ...]  # "NPI", "fee"


def export_problems(*, user: User, viewed_as: str | None) -> list[ExportProblem]:
    """Approved e-visits the next export would send without the rendering clinician's NPI
    (a clearinghouse rejects the claim) or without a fee (the file's total is wrong):
    shown to the billing user before the file is made. Written to the access log as
    `viewed_as` (the list names patients); None when they are only checked, not shown."""
    approved = list(
        evisits_for_billing(user=user, status=EVisit.Status.APPROVED).order_by("window_start", "pk")
    )
    npis = rendering_npis(evisits=approved)
    problems = []
    for evisit in approved:
        lacking = (("NPI", not npis[evisit.pk].strip()), ("fee", evisit.amount is None))
        missing = tuple(what for what, absent in lacking if absent)
        if missing:
            problems.append(ExportProblem(evisit=evisit, missing=missing))
    if viewed_as is not None:
        record_patient_data_accesses(
            user=user,
            what=viewed_as,
            shown=[(p.evisit.conversation.patient, p.evisit.pk) for p in problems],
        )
    return problems


@dataclass(frozen=True)
class ConversationTime:
    entries: list[TimeEntry]
    running_timer: TimeEntry | None  # the viewer's own, if one runs
    total_minutes: float


def conversation_time(*, conversation_id: int, user: User) -> ConversationTime:
    entries = list(
        TimeEntry.objects.filter(conversation_id=conversation_id)
        .select_related("user")
        .order_by("started_at", "id")
    )
    return ConversationTime(
        entries=entries,
        running_timer=next(
            (e for e in entries if e.user_id == user.pk and e.ended_at is None), None
        ),
        total_minutes=round(sum(e.seconds for e in entries) / 60, 1),
    )


MISSED_STATUSES = (EVisit.Status.NOT_BILLABLE, EVisit.Status.REJECTED, EVisit.Status.CANDIDATE)


def revenue_report(*, user: User) -> list[dict]:
    """Per clinic and month (by service date): captured (approved or exported) and missed
    (clinician time of 5+ minutes that will not be billed: excluded by a rule, rejected,
    or waiting for consent), with the reasons counted."""
    rows: dict[tuple, dict] = {}
    evisits = EVisit.objects.filter(
        clinic__in=require_billing(user=user), service_date__isnull=False
    ).select_related("clinic")
    for evisit in evisits:
        month = evisit.service_date.strftime("%Y-%m")
        row = rows.setdefault(
            (evisit.clinic.name, month),
            {
                "clinic": evisit.clinic.name,
                "month": month,
                "captured_count": 0,
                "captured_amount": Decimal(0),
                "missed_count": 0,
                "missed_amount": Decimal(0),
                "missed_reasons": {},
            },
        )
        amount = evisit.amount or Decimal(0)
        if evisit.status in (EVisit.Status.APPROVED, EVisit.Status.EXPORTED):
            row["captured_count"] += 1
            row["captured_amount"] += amount
        elif evisit.status in MISSED_STATUSES and evisit.minutes >= 5:
            if evisit.status == EVisit.Status.CANDIDATE and not evisit.needs_consent:
                continue  # still billable: neither captured nor missed yet
            row["missed_count"] += 1
            row["missed_amount"] += amount
            reasons = evisit.reasons or (
                ["rejected"] if evisit.status == EVisit.Status.REJECTED else ["needs_consent"]
            )
            for reason in reasons:
                row["missed_reasons"][reason] = row["missed_reasons"].get(reason, 0) + 1
    return sorted(rows.values(), key=lambda r: (r["clinic"], r["month"]))


def time_entries_for(*, user: User, conversation_id: int) -> QuerySet[TimeEntry]:
    """The time logged on one conversation, as its reader's job needs (domain.md): the
    billing role sees all the time behind an e-visit of its clinic (the conversation has
    one, else 404); a clinician sees their own entries only; an administrator nothing
    (403 with the reason). Another clinic's conversation: 404."""
    conversation = (
        Conversation.objects.filter(pk=conversation_id, clinic__in=clinics_for_user(user=user))
        .select_related("clinic")
        .first()
    )
    if conversation is None:
        raise Http404("conversation not found")
    role = membership_role(user_id=user.pk, clinic=conversation.clinic)
    entries = TimeEntry.objects.filter(conversation=conversation).select_related("user")
    if role == Role.BILLING:
        if not EVisit.objects.filter(conversation=conversation).exists():
            raise Http404("no e-visit on this conversation")
        return entries.order_by("id")
    refuse_unless_works(role=role)
    return entries.filter(user=user).order_by("id")
