"""Clinician time on conversations (timer, manual minutes) and e-visits: recompute by
the CPT rules, review, export."""

import csv
import datetime
import io
import json
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from celery import shared_task
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Membership, User
from billing import cpt, exclusions, selectors
from billing.fhir import charge_item_bundle
from billing.models import (
    BillingAuditEvent,
    ClaimExport,
    EVisit,
    PatientVisit,
    TimeEntry,
)
from config.celery import DATABASE_RETRY
from config.fhir import validate_resource
from inbox.models import Conversation, Message, OutgoingMessage
from routing import webhooks
from routing.exceptions import (
    InvalidTarget,
    InvalidTransition,
    OutsideScopeOfPractice,
    WorkItemClosed,
)
from routing.models import WorkItem
from routing.scope_selectors import log_time_decision
from routing.selectors import access_work_item

MAX_MANUAL_MINUTES = 240


def _membership(*, user: User, clinic_id: int) -> Membership:
    return Membership.objects.get(user=user, clinic_id=clinic_id)


def _create_time_entry(*, actor: User, item, **fields) -> TimeEntry:
    """A time entry of `actor` on the item's conversation, with the role and credential
    they hold in its clinic now (what the CPT rules read later)."""
    membership = _membership(user=actor, clinic_id=item.clinic_id)
    return TimeEntry.objects.create(
        clinic_id=item.clinic_id,
        conversation_id=item.conversation_id,
        work_item=item,
        user=actor,
        role=membership.role,
        credential=membership.credential,
        **fields,
    )


def _timed_item(*, actor: User, item_id: int) -> WorkItem:
    """The work item time is kept on, if the actor may see it (else 404; billing and
    administrators 403). Not written to the access log: time changes the record and shows
    nothing of the patient (the item's page, where the timer is, was logged when it was
    opened)."""
    return access_work_item(user=actor, item_id=item_id, viewed_as=None)


def _check_may_log_time(*, actor: User, item: WorkItem) -> None:
    # Clinician time feeds e-visit claims: only someone who may answer the message adds
    # to it (stopping one's own running timer is always allowed).
    decision = log_time_decision(user=actor, item=item)
    if not decision.allowed:
        raise OutsideScopeOfPractice(decision.reason)


def start_timer(*, actor: User, item_id: int) -> TimeEntry:
    item = _timed_item(actor=actor, item_id=item_id)
    if item.status == WorkItem.Status.CLOSED:
        # A closed item is read-only: new work (and its time) starts by reopening it;
        # only a timer still running from before the close can be stopped.
        raise WorkItemClosed(
            "This item is closed: a nurse or physician may reopen it to work on it again. "
            "Time already spent can still be logged."
        )
    _check_may_log_time(actor=actor, item=item)
    try:
        with transaction.atomic():
            return _create_time_entry(
                actor=actor, item=item, source=TimeEntry.Source.TIMER, started_at=timezone.now()
            )
    except IntegrityError as exc:
        raise InvalidTransition("Your timer is already running on this conversation.") from exc


def stop_timer(*, actor: User, item_id: int) -> TimeEntry:
    item = _timed_item(actor=actor, item_id=item_id)
    with transaction.atomic():
        entry = (
            TimeEntry.objects.select_for_update()
            .filter(user=actor, conversation_id=item.conversation_id, ended_at__isnull=True)
            .first()
        )
        if entry is None:
            raise InvalidTransition("No timer of yours is running on this conversation.")
        entry.ended_at = timezone.now()
        entry.seconds = int((entry.ended_at - entry.started_at).total_seconds())
        entry.save(update_fields=["ended_at", "seconds"])
        enqueue_recompute(item.conversation_id)
        return entry


def log_minutes(
    *, actor: User, item_id: int, minutes: int, source: str = TimeEntry.Source.MANUAL
) -> TimeEntry:
    if not isinstance(minutes, int) or not 1 <= minutes <= MAX_MANUAL_MINUTES:
        raise InvalidTarget(f"Minutes must be a whole number from 1 to {MAX_MANUAL_MINUTES}.")
    item = _timed_item(actor=actor, item_id=item_id)
    if item.status == WorkItem.Status.CLOSED:
        raise WorkItemClosed(
            "This item is closed: a nurse or physician may reopen it to log more time on it."
        )
    _check_may_log_time(actor=actor, item=item)
    ended = timezone.now()
    with transaction.atomic():
        entry = _create_time_entry(
            actor=actor,
            item=item,
            source=source,
            started_at=ended - datetime.timedelta(minutes=minutes),
            ended_at=ended,
            seconds=minutes * 60,
        )
        # After the entry exists: with no transaction around, on_commit runs at once.
        enqueue_recompute(item.conversation_id)
    return entry


# --- e-visits ----------------------------------------------------------------------------


def enqueue_recompute(conversation_id: int) -> None:
    """Recompute the conversation's e-visit after this transaction commits (Celery)."""

    def recompute_evisit_after_commit() -> None:
        recompute_evisit_task.delay(conversation_id)

    transaction.on_commit(recompute_evisit_after_commit, robust=True)


@shared_task(**DATABASE_RETRY)
def recompute_evisit_task(conversation_id: int) -> None:
    # Beside the service it wraps, so enqueue_recompute needs no import of billing.tasks.
    recompute_evisit(conversation_id=conversation_id)


def local_date(moment: datetime.datetime | None, clinic) -> datetime.date | None:
    """The date on the clinic's calendar (dates of service, the CSV and FHIR files)."""
    return moment.astimezone(ZoneInfo(clinic.time_zone)).date() if moment else None


def conversation_facts(*, conversation, as_of) -> "cpt.ConversationFacts":
    patient = conversation.patient
    zone = ZoneInfo(conversation.clinic.time_zone)  # dates of service in the clinic's zone
    first_message = Message.objects.filter(conversation=conversation).order_by("created_at").first()
    first_staff = (
        OutgoingMessage.objects.filter(
            conversation=conversation, kind=OutgoingMessage.Kind.STAFF_REPLY
        )
        .order_by("created_at")
        .first()
    )
    patient_initiated = first_message is not None and (
        first_staff is None or first_message.created_at <= first_staff.created_at
    )
    started_on = (first_message.created_at if first_message else as_of).astimezone(zone).date()
    visits = list(PatientVisit.objects.filter(patient=patient))
    entries = TimeEntry.objects.filter(conversation=conversation, ended_at__isnull=False)
    billed = EVisit.objects.filter(
        conversation__patient=patient,
        status__in=[EVisit.Status.APPROVED, EVisit.Status.EXPORTED],
    ).exclude(conversation=conversation)
    return cpt.ConversationFacts(
        patient_initiated=patient_initiated,
        established_patient=any(v.on < started_on for v in visits),
        consent_given_at=patient.evisit_consent_at,
        time_entries=tuple(
            cpt.TimeSpent(
                clinician_id=e.user_id,
                role=e.role,
                credential=e.credential,
                started_at=e.started_at.astimezone(zone),
                seconds=e.seconds,
            )
            for e in entries
        ),
        visits=tuple(cpt.Visit(on=v.on) for v in visits if v.kind == PatientVisit.Kind.EM),
        global_periods=tuple(
            cpt.GlobalPeriod(
                starts_on=v.on, ends_on=v.on + datetime.timedelta(days=v.global_period_days)
            )
            for v in visits
            if v.kind == PatientVisit.Kind.PROCEDURE and v.global_period_days
        ),
        billed_evisit_dates=tuple(e.service_date for e in billed if e.service_date),
        as_of=as_of,
    )


REVIEWED = (EVisit.Status.REJECTED, EVisit.Status.EXPORTED)


def recompute_evisit(*, conversation_id: int, as_of=None) -> EVisit:
    """Apply the CPT rules to the conversation as it is now. Idempotent: the same facts
    give the same row. A reviewed (rejected or exported) e-visit is left alone; an
    approved one that is no longer billable is voided back, with an audit event."""
    as_of = as_of or timezone.now()
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("patient", "clinic")
            .get(pk=conversation_id)
        )
        evisit, _ = EVisit.objects.get_or_create(
            conversation=conversation, defaults={"clinic_id": conversation.clinic_id}
        )
        if evisit.status in REVIEWED:
            return evisit
        decision = cpt.decide(conversation_facts(conversation=conversation, as_of=as_of))
        billable = decision.billable
        if billable:
            status = EVisit.Status.READY if decision.window_closed else EVisit.Status.CANDIDATE
        elif decision.needs_consent:
            status = EVisit.Status.CANDIDATE
        else:
            status = EVisit.Status.NOT_BILLABLE
        if evisit.status == EVisit.Status.APPROVED:
            if billable:
                status = EVisit.Status.APPROVED
            else:
                BillingAuditEvent.objects.create(
                    action=BillingAuditEvent.Action.VOIDED,
                    evisit=evisit,
                    detail="no longer billable: " + ", ".join(decision.reasons),
                )
        # The code the time supports, also when not billable: missed revenue is reported.
        code = decision.code or ""
        evisit.status = status
        evisit.code = code
        evisit.minutes = decision.minutes
        evisit.window_start, evisit.window_end = decision.window_start, decision.window_end
        evisit.rendering_clinician_id = decision.rendering_clinician_id
        evisit.reasons = list(decision.reasons)
        evisit.explanation = list(decision.explanation)
        evisit.needs_consent = decision.needs_consent
        evisit.amount = selectors.fee_for(
            code=code, on=local_date(decision.window_start, conversation.clinic)
        )
        evisit.save()
        return evisit


def _reviewable(*, actor: User, ids: list[int]):
    return (
        EVisit.objects.select_for_update(of=("self",))
        .filter(pk__in=ids, clinic__in=selectors.require_billing(user=actor))
        .order_by("pk")
    )


def _record_decision(
    evisit: EVisit, *, actor: User, status: str, action: str, reason: str, detail: str
):
    """A reviewer's approval or rejection, with its audit event."""
    evisit.status = status
    evisit.reviewed_by, evisit.reviewed_at = actor, timezone.now()
    evisit.decision_reason = reason[:300]
    evisit.save()
    BillingAuditEvent.objects.create(action=action, actor=actor, evisit=evisit, detail=detail[:500])


@dataclass
class ReviewOutcome:
    """What a review (approve or reject) did: how many it changed, and for each e-visit
    left as it was, why (billing/exclusions.py)."""

    done: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)  # (e-visit named, why)


def approve(*, actor: User, ids: list[int], reason: str = "") -> int:
    """Approve billable e-visits (candidate or ready). Anything else is skipped."""
    return approve_with_reasons(actor=actor, ids=ids, reason=reason).done


def approve_with_reasons(*, actor: User, ids: list[int], reason: str = "") -> ReviewOutcome:
    """`approve`, saying why each e-visit not approved was left as it was."""
    outcome = ReviewOutcome()
    found: set[int] = set()
    with transaction.atomic():
        for evisit in _reviewable(actor=actor, ids=ids):
            found.add(evisit.pk)
            refusal = exclusions.approval_refusal(evisit)
            if refusal is not None:
                outcome.refused.append((exclusions.describe_evisit(evisit), refusal))
                continue
            _record_decision(
                evisit,
                actor=actor,
                status=EVisit.Status.APPROVED,
                action=BillingAuditEvent.Action.APPROVED,
                reason=reason,
                detail=f"{evisit.code} {evisit.minutes} min {reason}",
            )
            _emit_evisit_approved(evisit)
            outcome.done += 1
    _not_found(outcome, ids=ids, found=found)
    return outcome


def _not_found(outcome: ReviewOutcome, *, ids: list[int], found: set[int]) -> None:
    for missing in dict.fromkeys(i for i in ids if i not in found):
        # Another clinic's e-visit is not confirmed to exist.
        outcome.refused.append((f"E-visit {missing}", "Not found among your clinics' e-visits."))


def _emit_evisit_approved(evisit: EVisit) -> None:
    # Codes, minutes and ids only: the e-visit carries no message text.
    webhooks.emit(
        clinic=evisit.clinic,
        event=webhooks.WebhookEvent.EVISIT_APPROVED,
        data={
            "evisit": {
                "id": evisit.pk,
                "conversation_id": evisit.conversation_id,
                "status": evisit.status,
                "code": evisit.code,
                "minutes": evisit.minutes,
                "amount": str(evisit.amount) if evisit.amount is not None else None,
                "rendering_clinician_id": evisit.rendering_clinician_id,
                "reviewed_at": evisit.reviewed_at.isoformat() if evisit.reviewed_at else None,
            }
        },
    )


def reject(*, actor: User, ids: list[int], reason: str) -> int:
    return reject_with_reasons(actor=actor, ids=ids, reason=reason).done


def reject_with_reasons(*, actor: User, ids: list[int], reason: str) -> ReviewOutcome:
    """Reject e-visits not yet exported or rejected, saying why any other was left as it
    was."""
    if not reason or not reason.strip():
        raise InvalidTarget("A rejection needs a reason.")
    rejected = 0
    outcome = ReviewOutcome()
    found: set[int] = set()
    with transaction.atomic():
        for evisit in _reviewable(actor=actor, ids=ids):
            found.add(evisit.pk)
            refusal = exclusions.rejection_refusal(evisit)
            if refusal is not None:
                outcome.refused.append((exclusions.describe_evisit(evisit), refusal))
                continue
            _record_decision(
                evisit,
                actor=actor,
                status=EVisit.Status.REJECTED,
                action=BillingAuditEvent.Action.REJECTED,
                reason=reason,
                detail=reason,
            )
            rejected += 1
    outcome.done = rejected
    _not_found(outcome, ids=ids, found=found)
    return outcome


CSV_COLUMNS = [
    "mrn",
    "patient",
    "date_of_service",
    # The clinic's IANA zone, whose calendar the date of service is on (not UTC).
    "time_zone",
    "code",
    "minutes",
    "rendering_provider",
    "rendering_provider_npi",
    "clinic",
    "amount",
]


def export_approved(*, actor: User, export_format: str) -> ClaimExport | None:
    """Export every approved e-visit of the actor's clinics once. The rows are locked and
    marked exported in the same transaction as the export, so a second export (even a
    concurrent one) never contains them again. None when there is nothing to export."""
    if export_format not in ClaimExport.Format.values:
        raise InvalidTarget("Export as csv or fhir.")
    with transaction.atomic():
        evisits = list(
            EVisit.objects.select_for_update(of=("self",), skip_locked=True)
            .filter(status=EVisit.Status.APPROVED, clinic__in=selectors.require_billing(user=actor))
            .select_related("clinic", "conversation__patient", "rendering_clinician")
            .order_by("window_start", "pk")
        )
        if not evisits:
            return None
        export = ClaimExport.objects.create(
            format=export_format,
            created_by=actor,
            claims=len(evisits),
            total=sum((e.amount or Decimal(0)) for e in evisits),
            content="",
        )
        npis = selectors.rendering_npis(evisits=evisits)
        rows = [_claim_row(e, npi=npis[e.pk]) for e in evisits]
        export.content = (
            _csv(rows) if export_format == ClaimExport.Format.CSV else _fhir(rows, export)
        )
        export.save(update_fields=["content"])
        EVisit.objects.filter(pk__in=[e.pk for e in evisits]).update(
            status=EVisit.Status.EXPORTED, export=export
        )
        BillingAuditEvent.objects.create(
            action=BillingAuditEvent.Action.EXPORTED,
            actor=actor,
            export=export,
            detail=f"{len(evisits)} claims, {export_format}, total {export.total}",
        )
        return export


def _claim_row(evisit: EVisit, *, npi: str) -> dict:
    patient = evisit.conversation.patient
    clinician = evisit.rendering_clinician
    return {
        "evisit_id": evisit.pk,
        "mrn": patient.mrn,
        "patient": patient.name,
        "date_of_service": evisit.service_date.isoformat() if evisit.service_date else "",
        "time_zone": evisit.clinic.time_zone,
        "code": evisit.code,
        "minutes": evisit.minutes,
        "rendering_provider": clinician.get_full_name() or clinician.get_username()
        if clinician
        else "",
        "rendering_provider_npi": npi,
        "clinic": evisit.clinic.name,
        "amount": f"{evisit.amount:.2f}" if evisit.amount is not None else "",
    }


def _csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        # A leading =, +, - or @ would be run as a formula by spreadsheet programs.
        writer.writerow({k: _spreadsheet_safe(v) for k, v in row.items()})
    return buffer.getvalue()


def _spreadsheet_safe(value):
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def _fhir(rows: list[dict], export: ClaimExport) -> str:
    """A FHIR R4 Bundle (collection) of ChargeItem resources, one per claim (billing.fhir).
    Validated before it is stored: a file a receiver would reject never leaves."""
    bundle = charge_item_bundle(rows, export_id=export.pk, timestamp=export.created_at.isoformat())
    return json.dumps(validate_resource(bundle, expected_type="Bundle"), indent=2)


def recompute_open_windows(*, as_of=None) -> int:
    as_of = as_of or timezone.now()
    due = EVisit.objects.filter(
        status__in=[EVisit.Status.CANDIDATE, EVisit.Status.APPROVED], window_end__lte=as_of
    ).values_list("conversation_id", flat=True)
    count = 0
    for conversation_id in list(due[:500]):
        recompute_evisit(conversation_id=conversation_id, as_of=as_of)
        count += 1
    return count


def visit_changed(*, patient_id: int) -> None:
    """A visit was recorded or changed: the 7-day rules of the patient's conversations may
    now decide differently."""
    for conversation_id in Conversation.objects.filter(patient_id=patient_id).values_list(
        "pk", flat=True
    ):
        enqueue_recompute(conversation_id)
