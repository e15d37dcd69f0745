import datetime
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Clinic, User
from triage.classification import UNCLASSIFIED_LABELS, classification_labels, predict_triage
from triage.classifier import TriageInput
from triage.exceptions import ConversationBelongsToAnotherPatient
from triage.models import (
    Classification,
    Conversation,
    Message,
    OutgoingMessage,
    Patient,
    PatientDataAccess,
)
from triage.selectors import access_reply

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PatientDetails:
    mrn: str
    name: str = ""
    birth_date: datetime.date | None = None
    preferred_language: str | None = None
    on_chemotherapy: bool | None = None


@dataclass(frozen=True)
class IncomingMessage:
    external_id: str
    patient: PatientDetails
    body: str
    subject: str = ""
    category: str = ""
    sent_at: datetime.datetime | None = None
    conversation_external_id: str = ""


def _upsert_patient(*, clinic: Clinic, details: PatientDetails) -> Patient:
    patient, created = Patient.objects.get_or_create(
        clinic=clinic,
        mrn=details.mrn,
        defaults={
            "name": details.name,
            "birth_date": details.birth_date,
            "preferred_language": details.preferred_language or "en",
            "on_chemotherapy": bool(details.on_chemotherapy),
        },
    )
    if not created:
        # The portal sends what it knows now; only fields it sent are updated.
        changed = []
        for field in ("name", "birth_date", "preferred_language", "on_chemotherapy"):
            value = getattr(details, field)
            if value not in (None, "") and getattr(patient, field) != value:
                setattr(patient, field, value)
                changed.append(field)
        if changed:
            patient.save(update_fields=[*changed, "updated_at"])
    return patient


def receive_message(*, clinic: Clinic, incoming: IncomingMessage) -> tuple[Message, bool]:
    """Store a patient's message (the outbox) and enqueue its triage after commit.

    Returns (message, created). The portal's external_id is the idempotency key: posting
    the same message again returns the stored one and enqueues nothing.
    """
    existing = Message.objects.filter(clinic=clinic, external_id=incoming.external_id).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            message = _store_message(clinic=clinic, incoming=incoming)
    except IntegrityError:
        # A concurrent post of the same external_id won the race; answer with its message.
        existing = Message.objects.filter(clinic=clinic, external_id=incoming.external_id).first()
        if existing is None:
            raise
        return existing, False
    return message, True


def _store_message(*, clinic: Clinic, incoming: IncomingMessage) -> Message:
    from triage.tasks import classify_and_route  # tasks import services

    patient = _upsert_patient(clinic=clinic, details=incoming.patient)
    conversation, _ = Conversation.objects.get_or_create(
        clinic=clinic,
        external_id=incoming.conversation_external_id or incoming.external_id,
        defaults={"patient": patient, "subject": incoming.subject[:300]},
    )
    if conversation.patient_id != patient.pk:
        raise ConversationBelongsToAnotherPatient(
            "This conversation belongs to another patient of the clinic."
        )
    message = Message.objects.create(
        clinic=clinic,
        conversation=conversation,
        external_id=incoming.external_id,
        subject=incoming.subject,
        body=incoming.body,
        category=incoming.category,
        sent_at=incoming.sent_at or timezone.now(),
    )
    # robust: a failing enqueue (broker down) must not fail the post; the message is
    # stored, and the stuck-message sweep enqueues it again.
    transaction.on_commit(partial(classify_and_route.delay, message.pk), robust=True)
    return message


def classify(*, message_id: int) -> Classification | None:
    """Classify a received message. Safe to run twice: the status is re-checked under a
    row lock, and a message already classified is left as it is."""
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",))
            .select_related("conversation__patient")
            .get(pk=message_id)
        )
        if message.status != Message.Status.RECEIVED:
            return Classification.objects.filter(message=message).first()
        patient = message.conversation.patient
        item = TriageInput(
            subject=message.subject, body=message.body, on_chemotherapy=patient.on_chemotherapy
        )
        try:
            result = predict_triage([item])[0]
        except Exception:
            # A classifier failure must never lose a message: nurse triage, urgent.
            logger.exception(
                "triage model failed for message %s; routing as unclassified", message.pk
            )
            classification = Classification.objects.create(message=message, **UNCLASSIFIED_LABELS)
        else:
            classification = Classification.objects.create(
                message=message, **classification_labels(result)
            )
        message.status = Message.Status.CLASSIFIED
        message.status_changed_at = timezone.now()
        message.save(update_fields=["status", "status_changed_at", "updated_at"])
        return classification


def mark_reply_delivered(*, user: User, reply_id: int) -> OutgoingMessage:
    """The portal confirms it has shown the reply to the patient. Confirming twice keeps
    the first time, so a portal may retry safely."""
    reply = access_reply(user=user, reply_id=reply_id)
    if reply.delivered_at is None:
        now = timezone.now()
        # Conditional update: two concurrent confirmations record one time.
        OutgoingMessage.objects.filter(pk=reply.pk, delivered_at__isnull=True).update(
            delivered_at=now
        )
        reply.refresh_from_db(fields=["delivered_at"])
    return reply


def record_patient_data_access(
    *, user: User, patient: Patient, what: str, object_id: int
) -> PatientDataAccess:
    """A page about one patient: a message thread, an e-visit record, a delivered reply."""
    (access,) = record_patient_data_accesses(user=user, what=what, shown=[(patient, object_id)])
    return access


def record_patient_data_accesses(
    *, user: User, what: str, shown: Iterable[tuple[Patient, int]]
) -> list[PatientDataAccess]:
    """The access log of a list page, an API page or an export: one row per patient, in
    one INSERT. `shown` is what the response really contains (after filtering and
    paging), in its order, as (patient, object_id) per item. A patient with several
    items on the page gets one row whose object_id is their first item: the one the
    privacy officer opens first, and it leads to the patient's others."""
    rows: dict[int, PatientDataAccess] = {}
    for patient, object_id in shown:
        if patient.pk not in rows:
            rows[patient.pk] = PatientDataAccess(
                clinic_id=patient.clinic_id,
                patient_id=patient.pk,
                user=user,
                what=what,
                object_id=object_id,
            )
    if not rows:
        return []
    return PatientDataAccess.objects.bulk_create(rows.values())
