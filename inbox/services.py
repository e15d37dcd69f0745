"""Writes of the inbox: a patient's message from receipt to routing, and the replies.

The message's status machine lives here: received -> classified -> routed, and a routed
message's conversation reopened by routing when the patient writes again. Other apps
change these rows only through these functions.
"""

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from django.db import IntegrityError, transaction
from django.db.models import Case, Exists, Q, Value, When
from django.utils import timezone

from accounts.models import Clinic, Integration, User
from inbox.exceptions import ConversationBelongsToAnotherPatient, UnknownPatient
from inbox.models import Conversation, Message, OutgoingMessage, Patient, PatientChange
from inbox.selectors import integration_reply
from inbox.signals import message_received, messages_received


@dataclass(frozen=True)
class PatientDetails:
    mrn: str
    name: str = ""
    birth_date: datetime.date | None = None
    preferred_language: str | None = None
    on_chemotherapy: bool | None = None
    phone: str = ""  # checked by the caller (inbox.validators.validate_phone)


@dataclass(frozen=True)
class IncomingMessage:
    external_id: str
    patient: PatientDetails
    body: str
    subject: str = ""
    category: str = ""
    sent_at: datetime.datetime | None = None
    conversation_external_id: str = ""


PATIENT_DETAIL_FIELDS = ("name", "birth_date", "preferred_language", "on_chemotherapy", "phone")
# The chart's identity and the flags the red-flag layer reads. Language and phone are the
# patient's own contact choices, which they keep up to date in the portal.
CHART_FIELDS = frozenset({"name", "birth_date", "on_chemotherapy"})


def _upsert_patient(
    *, clinic: Clinic, details: PatientDetails, source: Integration, history: bool = False
) -> Patient:
    # A read, then an insert when missing: no savepoint (get_or_create's). A concurrent
    # insert of the same patient fails the caller's transaction, which receive_message
    # runs again.
    patient = Patient.objects.filter(clinic=clinic, mrn=details.mrn).first()
    if patient is None:
        return Patient.objects.create(
            clinic=clinic, mrn=details.mrn, **_new_patient_fields(details)
        )
    _reconcile_patient_details(patient=patient, details=details, source=source, history=history)
    return patient


def _new_patient_fields(details: PatientDetails) -> dict:
    return {
        "name": details.name,
        "birth_date": details.birth_date,
        "preferred_language": details.preferred_language or "en",
        "on_chemotherapy": bool(details.on_chemotherapy),
        "phone": details.phone,
    }


def _new_patient(clinic: Clinic, details: PatientDetails) -> Patient:
    return Patient(clinic=clinic, mrn=details.mrn, **_new_patient_fields(details))


def _reconcile_patient_details(
    *, patient: Patient, details: PatientDetails, source: Integration, history: bool = False
) -> None:
    """Only fields the integration sent count. A blank stored field is filled; a differing
    chart value (name, birth date, flags) is overwritten only when the integration is the
    clinic's source of truth for demographics. Every difference is recorded either way.
    `history`: the details come from old messages (a bulk import), so they fill blanks
    only, even language and phone: last year's number must not replace today's."""
    changed, records = [], []
    for field in PATIENT_DETAIL_FIELDS:
        sent, stored = getattr(details, field), getattr(patient, field)
        if sent in (None, "") or sent == stored:
            continue
        applied = (
            stored in (None, "")
            or (field not in CHART_FIELDS and not history)
            or (source.demographics_source and not history)
        )
        records.append(
            PatientChange(
                clinic_id=patient.clinic_id,
                patient=patient,
                integration=source,
                field=field,
                old_value=_as_text(stored),
                new_value=_as_text(sent),
                applied=applied,
            )
        )
        if applied:
            setattr(patient, field, sent)
            changed.append(field)
    if changed:
        patient.save(update_fields=[*changed, "updated_at"])
    if records:
        PatientChange.objects.bulk_create(records)


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)[:200]


def receive_message(
    *, clinic: Clinic, incoming: IncomingMessage, source: Integration, announce: bool = True
) -> tuple[Message, bool]:
    """Store a patient's message (the outbox) and announce it after commit, which enqueues
    its classification and routing (pipeline.receivers).

    Returns (message, created). The portal's external_id is the idempotency key: posting
    the same message again returns the stored one and enqueues nothing.
    `announce=False` stores history (import_messages --no-route): status imported, never
    classified, routed or alerted on, and its details fill only blank patient fields.
    """
    existing = Message.objects.filter(clinic=clinic, external_id=incoming.external_id).first()
    if existing is not None:
        return existing, False
    for attempt in range(2):
        try:
            with transaction.atomic():
                message = _store_message(
                    clinic=clinic, incoming=incoming, source=source, announce=announce
                )
            return message, True
        except IntegrityError:
            # A concurrent post stored this message, or this patient or conversation,
            # between our read and our insert: answer with its message, or store ours
            # again now that the patient and conversation are there to be read.
            existing = Message.objects.filter(
                clinic=clinic, external_id=incoming.external_id
            ).first()
            if existing is not None:
                return existing, False
            if attempt:
                raise
    raise AssertionError("unreachable")


class BatchItemOutcome(StrEnum):
    CREATED = "created"
    ALREADY_PRESENT = "already_present"  # stored before, or earlier in the same batch
    REJECTED = "rejected"


@dataclass(frozen=True)
class BatchItem:
    """What became of one message of a batch."""

    outcome: BatchItemOutcome
    message_id: int | None = None  # the stored message: new, or the one stored before
    reason: str = ""  # why it was rejected, in plain words


@dataclass(frozen=True)
class BatchOutcome:
    """What became of a batch: counts, the rejected rows by their position in it, and
    each message's outcome and id in the batch's order (the bulk intake answers these)."""

    stored: int
    already_present: int
    rejected: list[tuple[int, str]]
    items: tuple[BatchItem, ...] = ()


_CONVERSATION_OF_ANOTHER_PATIENT = "This conversation belongs to another patient of the clinic."


def receive_messages_batch(
    *,
    clinic: Clinic,
    incoming: Sequence[IncomingMessage],
    source: Integration,
    announce: bool = True,
    announce_together: bool = False,
) -> BatchOutcome:
    """receive_message for many validated messages at once (the bulk import, the bulk
    intake): the same rules (external_id is the idempotency key, a conversation keeps its
    patient, patient details reconciled the same way) in one transaction and a handful of
    queries, rather than one transaction per message. A message stored before, or earlier
    in the batch, counts as already present; one whose conversation belongs to another
    patient is rejected, and the rest of the batch is stored. The outcome's `items` say
    what became of each message, in the batch's order, with its id.

    `announce_together`: the new messages are announced after commit with one
    messages_received for the batch (its routing is then enqueued in chunks, not as one
    task per message) instead of message_received for each."""
    try:
        with transaction.atomic():
            return _store_batch(
                clinic=clinic,
                incoming=incoming,
                source=source,
                announce=announce,
                announce_together=announce_together,
            )
    except IntegrityError:
        # Someone else (the portal posting, a second import) stored one of these patients,
        # conversations or messages meanwhile: the batch is rolled back and each message
        # goes through receive_message, which settles such races one at a time (and
        # announces each of its own, a rare case not worth a second path).
        return _receive_one_by_one(
            clinic=clinic, incoming=incoming, source=source, announce=announce
        )


def _receive_one_by_one(
    *, clinic: Clinic, incoming: Sequence[IncomingMessage], source: Integration, announce: bool
) -> BatchOutcome:
    stored = present = 0
    rejected, items = [], []
    for position, one in enumerate(incoming):
        try:
            message, created = receive_message(
                clinic=clinic, incoming=one, source=source, announce=announce
            )
        except ConversationBelongsToAnotherPatient as refusal:
            rejected.append((position, str(refusal)))
            items.append(BatchItem(BatchItemOutcome.REJECTED, reason=str(refusal)))
            continue
        stored += created
        present += not created
        outcome = BatchItemOutcome.CREATED if created else BatchItemOutcome.ALREADY_PRESENT
        items.append(BatchItem(outcome, message.pk))
    return BatchOutcome(
        stored=stored, already_present=present, rejected=rejected, items=tuple(items)
    )


def _store_batch(
    *,
    clinic: Clinic,
    incoming: Sequence[IncomingMessage],
    source: Integration,
    announce: bool,
    announce_together: bool,
) -> BatchOutcome:
    # external_id -> id of the clinic's messages stored before (and, once stored, of the
    # batch's new ones): what an already-present message answers with.
    message_ids = dict(
        Message.objects.filter(
            clinic=clinic, external_id__in={m.external_id for m in incoming}
        ).values_list("external_id", "pk")
    )
    stored_ids = set(message_ids)
    thread_keys = {m.conversation_external_id or m.external_id for m in incoming}
    # Whose each thread is, by MRN: a row is checked before any patient is written, so a
    # rejected row changes nothing (as receive_message's rollback guarantees).
    thread_owner = dict(
        Conversation.objects.filter(clinic=clinic, external_id__in=thread_keys).values_list(
            "external_id", "patient__mrn"
        )
    )
    known_threads = set(thread_owner)
    accepted: list[IncomingMessage] = []
    present, rejected = 0, []
    outcomes: list[BatchItemOutcome] = []  # by position
    for position, one in enumerate(incoming):
        if one.external_id in stored_ids:
            present += 1
            outcomes.append(BatchItemOutcome.ALREADY_PRESENT)
            continue
        key = one.conversation_external_id or one.external_id
        owner = thread_owner.setdefault(key, one.patient.mrn)
        if owner != one.patient.mrn:
            rejected.append((position, _CONVERSATION_OF_ANOTHER_PATIENT))
            outcomes.append(BatchItemOutcome.REJECTED)
            continue
        stored_ids.add(one.external_id)
        accepted.append(one)
        outcomes.append(BatchItemOutcome.CREATED)

    patients = _batch_patients(
        clinic=clinic, accepted=accepted, source=source, history=not announce
    )
    new_threads: dict[str, Conversation] = {}
    for one in accepted:
        key = one.conversation_external_id or one.external_id
        if key not in known_threads and key not in new_threads:
            new_threads[key] = Conversation(
                clinic=clinic, patient=patients[one.patient.mrn], external_id=key,
                subject=one.subject[:300],
            )  # fmt: skip
    Conversation.objects.bulk_create(new_threads.values())
    thread_ids = dict(
        Conversation.objects.filter(clinic=clinic, external_id__in=thread_keys).values_list(
            "external_id", "pk"
        )
    )
    now = timezone.now()
    status = Message.Status.RECEIVED if announce else Message.Status.IMPORTED
    messages = Message.objects.bulk_create(
        Message(
            clinic=clinic,
            conversation_id=thread_ids[one.conversation_external_id or one.external_id],
            external_id=one.external_id,
            subject=one.subject,
            body=one.body,
            category=one.category,
            sent_at=one.sent_at or now,
            status=status,
        )
        for one in accepted
    )
    if announce and announce_together and messages:
        transaction.on_commit(_after_commit_announce_many([m.pk for m in messages]), robust=True)
    elif announce:
        for one, message in zip(accepted, messages, strict=True):
            transaction.on_commit(
                _after_commit_announce(
                    message.pk, message=message, patient=patients[one.patient.mrn]
                ),
                robust=True,
            )
    # PostgreSQL's bulk_create returns each row's id (INSERT ... RETURNING).
    message_ids.update((m.external_id, m.pk) for m in messages)
    items = tuple(
        BatchItem(outcome, reason=_CONVERSATION_OF_ANOTHER_PATIENT)
        if outcome == BatchItemOutcome.REJECTED
        else BatchItem(outcome, message_ids[one.external_id])
        for one, outcome in zip(incoming, outcomes, strict=True)
    )
    return BatchOutcome(
        stored=len(messages), already_present=present, rejected=rejected, items=items
    )


def _batch_patients(
    *, clinic: Clinic, accepted: list[IncomingMessage], source: Integration, history: bool
) -> dict[str, Patient]:
    """The batch's patients by MRN: a new one is created from its first message's details,
    every later message's details are reconciled in order, as one by one."""
    patients = {
        p.mrn: p
        for p in Patient.objects.filter(clinic=clinic, mrn__in={m.patient.mrn for m in accepted})
    }
    # The position of the message each new patient is created from.
    creators: dict[str, int] = {}
    for position, one in enumerate(accepted):
        if one.patient.mrn not in patients:
            creators.setdefault(one.patient.mrn, position)
    created = {mrn: _new_patient(clinic, accepted[at].patient) for mrn, at in creators.items()}
    Patient.objects.bulk_create(created.values())
    patients.update(created)
    for position, one in enumerate(accepted):
        if creators.get(one.patient.mrn) != position:
            _reconcile_patient_details(
                patient=patients[one.patient.mrn],
                details=one.patient,
                source=source,
                history=history,
            )
    return patients


def receive_message_for_known_patient(
    *, clinic: Clinic, incoming: IncomingMessage, source: Integration
) -> tuple[Message, bool]:
    """receive_message for an intake that names the patient by MRN alone (FHIR
    Communication): a patient the clinic does not have is refused (UnknownPatient), not
    created, since there is no name or birth date to make a chart from and a mistyped MRN
    would start one. A repeat of a stored message is answered as receive_message does."""
    known = Patient.objects.filter(clinic=clinic, mrn=incoming.patient.mrn).exists()
    repeat = Message.objects.filter(clinic=clinic, external_id=incoming.external_id).exists()
    if not known and not repeat:
        raise UnknownPatient(
            "The clinic has no patient with this MRN. Post the patient's first message "
            "through POST /api/v1/messages (with name and birth date), or check the MRN."
        )
    return receive_message(clinic=clinic, incoming=incoming, source=source)


def _after_commit_announce(
    message_id: int, *, message: Message | None = None, patient: Patient | None = None
):
    # A named function, not a partial: Django's robust on_commit logs the callable's
    # __qualname__ when it fails, and a partial has none. The text goes with the signal
    # when it is at hand, so its receiver need not read the message again.
    text = (
        {}
        if message is None or patient is None
        else {
            "subject": message.subject,
            "body": message.body,
            "on_chemotherapy": patient.on_chemotherapy,
        }
    )

    def announce_message_received() -> None:
        message_received.send(sender=Message, message_id=message_id, **text)

    return announce_message_received


def _after_commit_announce_many(message_ids: list[int]):
    # Named, like _after_commit_announce. robust (the caller's on_commit): a failing
    # enqueue (broker down) must not fail the post; the stored messages stay received and
    # the stuck-message sweep announces each again.
    def announce_messages_received() -> None:
        messages_received.send(sender=Message, message_ids=message_ids)

    return announce_messages_received


def announce_received(*, message_id: int) -> None:
    """Announce a stored message again (the stuck-message sweep): the same signal."""
    _after_commit_announce(message_id)()


def _store_message(
    *, clinic: Clinic, incoming: IncomingMessage, source: Integration, announce: bool
) -> Message:
    patient = _upsert_patient(
        clinic=clinic, details=incoming.patient, source=source, history=not announce
    )
    thread = incoming.conversation_external_id or incoming.external_id
    conversation = Conversation.objects.filter(clinic=clinic, external_id=thread).first()
    if conversation is None:  # as for the patient: no savepoint
        conversation = Conversation.objects.create(
            clinic=clinic, external_id=thread, patient=patient, subject=incoming.subject[:300]
        )
    if conversation.patient_id != patient.pk:
        raise ConversationBelongsToAnotherPatient(_CONVERSATION_OF_ANOTHER_PATIENT)
    message = Message.objects.create(
        clinic=clinic,
        conversation=conversation,
        external_id=incoming.external_id,
        subject=incoming.subject,
        body=incoming.body,
        category=incoming.category,
        sent_at=incoming.sent_at or timezone.now(),
        status=Message.Status.RECEIVED if announce else Message.Status.IMPORTED,
    )
    if announce:
        # robust: a failing enqueue (broker down) must not fail the post; the message is
        # stored, and the stuck-message sweep announces it again.
        transaction.on_commit(
            _after_commit_announce(message.pk, message=message, patient=patient), robust=True
        )
    return message


def record_evisit_consent(*, patient: Patient, at: datetime.datetime) -> None:
    """The patient was told e-visits may be billed (cost-share notice) and agreed."""
    Patient.objects.filter(pk=patient.pk).update(evisit_consent_at=at, updated_at=timezone.now())
    patient.evisit_consent_at = at


# --- the status machine ------------------------------------------------------------------


def lock_message(*, message_id: int) -> Message:
    """The message row locked for the caller's transaction (classify and route re-check
    its status under this lock), with its conversation, patient and clinic (whose
    configuration version tells a worker whether its cached configuration is current)."""
    return (
        Message.objects.select_for_update(of=("self",))
        .select_related("conversation__patient", "clinic")
        .defer("search_text")
        .get(pk=message_id)
    )


def lock_received_messages(*, first_id: int, limit: int) -> list[Message]:
    """Up to `limit` received messages locked for the caller's transaction, `first_id`
    first when it is still received, then the oldest; rows another worker holds are
    skipped (that worker is classifying them), so batches never wait on each other."""
    own_first = Case(When(pk=first_id, then=Value(0)), default=Value(1))
    return list(
        Message.objects.select_for_update(of=("self",), skip_locked=True)
        .select_related("conversation__patient", "clinic")
        .defer("search_text")
        .filter(status=Message.Status.RECEIVED)
        .order_by(own_first, "id")[:limit]
    )


def lock_received_messages_of(*, message_ids: list[int]) -> list[Message]:
    """Those of `message_ids` still received, locked for the caller's transaction in the
    order of their conversations (two chunks lock conversations in one order, so they
    never wait on each other in a cycle); rows another worker holds are skipped."""
    return list(
        Message.objects.select_for_update(of=("self",), skip_locked=True)
        .select_related("conversation__patient", "clinic")
        .defer("search_text")
        .filter(pk__in=message_ids, status=Message.Status.RECEIVED)
        .order_by("conversation_id", "id")
    )


def lock_conversations(*, conversation_ids: list[int], noting: Exists | None = None) -> set[int]:
    """lock_conversation for several, in one statement and in id order. `noting`: a
    condition on a conversation (OuterRef("pk") is its id), read in the same statement;
    the ids of those that meet it are returned."""
    locked = Conversation.objects.select_for_update(of=("self",)).filter(pk__in=conversation_ids)
    if noting is None:
        list(locked.order_by("pk").values_list("pk", flat=True))
        return set()
    rows = locked.annotate(noted=noting).order_by("pk").values_list("pk", "noted")
    return {pk for pk, noted in rows if noted}


def lock_conversation(*, conversation_id: int) -> Conversation:
    """Serializes routing per thread: two messages of one conversation never both create
    an open work item."""
    return Conversation.objects.select_for_update().get(pk=conversation_id)


def _set_status(message: Message, status: str) -> None:
    message.status = status
    message.status_changed_at = timezone.now()
    message.save(update_fields=["status", "status_changed_at", "updated_at"])


def mark_classified_many(*, messages: list[Message], written: bool = True) -> None:
    """received -> classified for messages whose locks the caller holds: one UPDATE.
    `written=False`: the caller routes every one of them in the same transaction, or
    rolls it back, so no other transaction could ever see them classified; the step is
    kept on the objects only, and mark_routed writes their status once."""
    if any(message.status != Message.Status.RECEIVED for message in messages):
        raise ValueError("only received messages can be marked classified")
    now = timezone.now()
    if written:
        Message.objects.filter(pk__in=[m.pk for m in messages]).update(
            status=Message.Status.CLASSIFIED, status_changed_at=now, updated_at=now
        )
    for message in messages:
        message.status, message.status_changed_at = Message.Status.CLASSIFIED, now


def mark_classified(*, message: Message) -> None:
    """received -> classified (the caller holds the message lock)."""
    if message.status != Message.Status.RECEIVED:
        raise ValueError(f"message {message.pk} is {message.status}, not received")
    _set_status(message, Message.Status.CLASSIFIED)


def mark_routed_many(*, messages: list[Message]) -> None:
    """classified -> routed for messages whose locks the caller holds: one UPDATE."""
    if any(message.status != Message.Status.CLASSIFIED for message in messages):
        raise ValueError("only classified messages can be marked routed")
    now = timezone.now()
    Message.objects.filter(pk__in=[m.pk for m in messages]).update(
        status=Message.Status.ROUTED, status_changed_at=now, updated_at=now
    )
    for message in messages:
        message.status, message.status_changed_at = Message.Status.ROUTED, now


def mark_routed(*, message: Message) -> None:
    """classified -> routed (the caller holds the message lock)."""
    if message.status != Message.Status.CLASSIFIED:
        raise ValueError(f"message {message.pk} is {message.status}, not classified")
    _set_status(message, Message.Status.ROUTED)


def take_stuck_messages(
    *,
    now: datetime.datetime,
    older_than: datetime.timedelta,
    window: datetime.timedelta,
    limit: int,
) -> list[int]:
    """Messages still received or classified after `older_than`: the broker lost them, a
    worker died, or the enqueue after commit failed. Each is taken at most once per
    `window` (requeued_at is the gate): while a backed-up broker still holds the copy
    enqueued last time, another sweep adds nothing. SKIP LOCKED: rows another sweeper (or
    a worker classifying them) holds are left for it, not waited for."""
    cutoff = now - older_than
    with transaction.atomic():
        taken = list(
            Message.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status__in=Message.AWAITING_ROUTING, status_changed_at__lt=cutoff)
            .filter(Q(requeued_at__isnull=True) | Q(requeued_at__lte=now - window))
            .order_by("status_changed_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        Message.objects.filter(pk__in=taken).update(requeued_at=now)
    return taken


# --- replies -------------------------------------------------------------------------------


def send_reply(*, in_reply_to: Message, body: str, author: User) -> OutgoingMessage:
    """A staff reply, stored in the outbox the portal collects from."""
    return OutgoingMessage.objects.create(
        clinic_id=in_reply_to.clinic_id,
        conversation_id=in_reply_to.conversation_id,
        in_reply_to=in_reply_to,
        kind=OutgoingMessage.Kind.STAFF_REPLY,
        body=body,
        author=author,
    )


def send_auto_reply(
    *, in_reply_to: Message, template: str, language: str, body: str
) -> OutgoingMessage:
    """The automatic reply to one patient message, once per template (unique key)."""
    reply, _ = OutgoingMessage.objects.get_or_create(
        in_reply_to=in_reply_to,
        template=template,
        kind=OutgoingMessage.Kind.AUTO_REPLY,
        defaults={
            "clinic_id": in_reply_to.clinic_id,
            "conversation_id": in_reply_to.conversation_id,
            "language": language,
            "body": body,
        },
    )
    return reply


def confirm_delivered(*, integration: Integration, reply_id: int) -> OutgoingMessage:
    """The portal confirms it has shown the reply to the patient. Confirming twice keeps
    the first time, so a portal may retry safely."""
    reply = integration_reply(integration=integration, reply_id=reply_id)
    if reply.delivered_at is None:
        # Conditional update: two concurrent confirmations record one time.
        OutgoingMessage.objects.filter(pk=reply.pk, delivered_at__isnull=True).update(
            delivered_at=timezone.now()
        )
        reply.refresh_from_db(fields=["delivered_at"])
    return reply
