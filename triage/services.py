"""Writes of the triage app: a message's classification, staff label corrections, the
cold-start request to train the default model, and an administrator's request to train
the transformer ensemble."""

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from accounts.models import Membership, Role, User
from accounts.selectors import clinics_for_user
from inbox import services as inbox_services
from inbox.models import Message
from triage import tasks
from triage.classification import labels_for_batch
from triage.exceptions import CorrectionAlreadyReviewed, CorrectionRefused
from triage.ml.classifier import TriageInput
from triage.model_training import (
    CANDIDATE_STALE_AFTER,
    ENSEMBLE_STALE_AFTER,
    RETRY_FAILED_AFTER,
    STALE_REQUEST_AFTER,
)
from triage.models import Classification, LabelCorrection, ModelTraining, ModelVersion

logger = logging.getLogger(__name__)

DEFAULT_MODEL_TRAINING = tasks.DEFAULT_MODEL_TRAINING


def classify(*, message_id: int) -> Classification | None:
    """Classify a received message, and with it the other received messages waiting (up
    to TRIAGE_BATCH_SIZE, oldest first) in one model call: under load the model runs in
    batches, and each of those messages' own tasks then finds it classified and only
    routes it. Safe to run twice: the status is re-checked under a row lock, and a
    message already classified is left as it is. With no active model the messages are
    classified as the classifier-failure path (urgent, nurse triage, needs review) and
    the default model is trained on the slow queue; nothing trains here."""
    with transaction.atomic():
        return classify_in_transaction(message_id=message_id)


def classify_in_transaction(*, message_id: int) -> Classification | None:
    """classify() inside the caller's transaction, which on return holds the message's
    row lock. None for a message that is not to be classified (imported history)."""
    classifications, earlier = _classify_with_waiting(message_id=message_id)
    if earlier is not None:
        return _earlier_classification(earlier)
    return next(c for c in classifications if c.message_id == message_id)


def classify_with_waiting_in_transaction(*, message_id: int) -> list[Classification]:
    """The pipeline's step: the message classified together with the other received
    messages waiting (up to TRIAGE_BATCH_SIZE, oldest first) in one model call, inside
    the caller's transaction, which on return holds all their row locks, so that routing
    goes on with all of them as loaded here (pipeline.tasks.classify_and_route). The
    message's own classification is among them while it waits to be routed, whether
    classified here or before; a message routed already, or not to be classified
    (imported history), adds none. The caller routes every one of them in the same
    transaction or rolls it back: the messages classified here are not written as
    classified (inbox.services.mark_classified_many, written=False)."""
    classifications, earlier = _classify_with_waiting(message_id=message_id, routing_follows=True)
    if earlier is not None and earlier.status == Message.Status.CLASSIFIED:
        own = _earlier_classification(earlier)
        if own is not None:
            classifications.append(own)
    return classifications


def _classify_with_waiting(
    *, message_id: int, routing_follows: bool = False
) -> tuple[list[Classification], Message | None]:
    """The received messages waiting, the given one first, classified under their locks;
    and the given message, locked, when it was not received any more (classified or
    routed before, or imported history), else None."""
    batch = inbox_services.lock_received_messages(
        first_id=message_id, limit=max(1, settings.TRIAGE_BATCH_SIZE)
    )
    classifications = _classify_locked(batch, routing_follows=routing_follows)
    if any(c.message_id == message_id for c in classifications):
        return classifications, None
    # Classified already, or another worker's batch holds it: wait for that one.
    message = inbox_services.lock_message(message_id=message_id)
    if message.status == Message.Status.RECEIVED:
        # That worker's transaction was rolled back: classify it here.
        own = _classify_locked([message], routing_follows=routing_follows)
        return classifications + own, None
    return classifications, message


def _earlier_classification(message: Message) -> Classification | None:
    classification = Classification.objects.filter(message=message).first()
    if classification is not None:
        classification.message = message  # the locked row, not a second read
    return classification


def classify_many_in_transaction(*, message_ids: list[int]) -> list[Classification]:
    """Those of `message_ids` still received, classified in one model call inside the
    caller's transaction, which on return holds their row locks (a burst's chunk:
    pipeline.tasks.classify_and_route_many routes them in the same transaction). In the
    order of their conversations; messages classified already or held by another worker
    are not among them."""
    return _classify_locked(inbox_services.lock_received_messages_of(message_ids=message_ids))


def _classify_locked(
    messages: list[Message], *, routing_follows: bool = False
) -> list[Classification]:
    """The caller holds these received messages' locks. `routing_follows`: the caller
    routes all of them in the same transaction or rolls it back."""
    if not messages:
        return []
    items = [
        TriageInput(
            subject=m.subject,
            body=m.body,
            on_chemotherapy=m.conversation.patient.on_chemotherapy,
        )
        for m in messages
    ]
    all_labels = labels_for_batch(items, clinics=[m.clinic for m in messages])
    if (
        any(labels["unclassified"] for labels in all_labels)
        and not ModelVersion.objects.filter(is_active=True).exists()
    ):
        request_default_model_training()
    # Two statements for the whole batch, whatever its size.
    classifications = Classification.objects.bulk_create(
        Classification(message=message, **labels)
        for message, labels in zip(messages, all_labels, strict=True)
    )
    inbox_services.mark_classified_many(messages=messages, written=not routing_follows)
    return classifications


def request_default_model_training() -> bool:
    """Ask the slow queue to train the default model, once: the first request makes the
    gate row; a later one re-arms it only after the last training ended (a failed one
    after a pause), or when the last request is stale (lost before or during training).
    Returns whether this call enqueued the training."""
    now = timezone.now()
    ended = Q(status=ModelTraining.Status.DONE) | Q(
        status=ModelTraining.Status.FAILED, finished_at__lt=now - RETRY_FAILED_AFTER
    )
    stale = Q(requested_at__lt=now - STALE_REQUEST_AFTER)
    _, enqueued = _request_training(
        DEFAULT_MODEL_TRAINING, ended | stale, tasks.enqueue_default_model_training, now=now
    )
    if enqueued:
        logger.warning("no active triage model: the default model is being trained")
    return enqueued


def request_ensemble_training() -> tuple[ModelTraining, bool]:
    """An administrator asks the slow queue to train the transformer ensemble. One
    training at a time: a request while one is requested or running (and not stale)
    changes nothing. Returns the request and whether this call enqueued it."""
    now = timezone.now()
    busy = Q(status__in=[ModelTraining.Status.REQUESTED, ModelTraining.Status.RUNNING])
    stale = Q(requested_at__lt=now - ENSEMBLE_STALE_AFTER)
    return _request_training(
        tasks.ENSEMBLE_TRAINING, ~busy | stale, tasks.enqueue_ensemble_training, now=now
    )


def request_candidate_training() -> tuple[ModelTraining, bool]:
    """A superuser asks the slow queue to train a candidate on the corpus plus reviewed
    corrections. One at a time, as for the ensemble."""
    now = timezone.now()
    busy = Q(status__in=[ModelTraining.Status.REQUESTED, ModelTraining.Status.RUNNING])
    stale = Q(requested_at__lt=now - CANDIDATE_STALE_AFTER)
    return _request_training(
        tasks.CANDIDATE_TRAINING, ~busy | stale, tasks.enqueue_candidate_training, now=now
    )


def _request_training(name: str, rearm_when: Q, enqueue, *, now) -> tuple[ModelTraining, bool]:
    """The gate row of a training: made by the first request; a later one re-arms it only
    when `rearm_when` holds. Conditional, so of concurrent requests one re-arms (the others
    see it requested). Enqueues after commit when made or re-armed."""
    with transaction.atomic():
        training, created = ModelTraining.objects.get_or_create(
            name=name, defaults={"requested_at": now}
        )
        rearmed = not created and ModelTraining.objects.filter(rearm_when, name=name).update(
            status=ModelTraining.Status.REQUESTED,
            requested_at=now,
            error="",
            progress_step=0,
            progress_total=0,
            progress_note="",
        )
    enqueued = bool(created or rearmed)
    if enqueued:
        transaction.on_commit(enqueue, robust=True)
    if rearmed:
        training.refresh_from_db()
    return training, enqueued


def record_label_correction(
    *, message: Message, label: str, from_value: str, to_value: str, actor: User, reason: str
) -> LabelCorrection:
    """Staff moved a message to another role or acuity: a corrected label for training,
    proposed until a second person confirms it or an administrator accepts it."""
    return LabelCorrection.objects.create(
        message=message,
        label=label,
        from_value=from_value,
        to_value=to_value,
        corrected_by=actor,
        reason=reason[:500],
    )


# The roles that read message threads, so may judge a label (routing/scope.py WORKERS;
# triage sits below routing and cannot import it).
CORRECTION_REVIEWERS = (Role.CLERICAL, Role.MA, Role.NURSE, Role.PHYSICIAN)


def confirm_correction(*, actor: User, correction_id: int) -> LabelCorrection:
    """A second clinical staff member of the message's clinic agrees with a proposed
    correction: from now on it is used for training. Its author is refused (one person's
    click is not a reviewed label); so are billing and administrator roles, who read no
    threads; another clinic's correction is not found."""
    with transaction.atomic():
        correction = (
            LabelCorrection.objects.select_for_update(of=("self",))
            .select_related("message")
            .filter(pk=correction_id, message__clinic__in=clinics_for_user(user=actor))
            .first()
        )
        if correction is None:
            raise Http404("correction not found")
        role = (
            Membership.objects.filter(user=actor, clinic_id=correction.message.clinic_id)
            .values_list("role", flat=True)
            .first()
        )
        if role not in CORRECTION_REVIEWERS:
            raise CorrectionRefused(
                "Corrections are confirmed by clinical staff of the clinic who read its messages."
            )
        if correction.corrected_by_id == actor.pk:
            raise CorrectionRefused(
                "You made this correction: another member of the care team confirms it."
            )
        return _review(correction, actor=actor, status=LabelCorrection.ReviewStatus.CONFIRMED)


def review_corrections(*, actor: User, correction_ids: list[int], accept: bool) -> tuple[int, int]:
    """An administrator accepts (used for training) or rejects (never used, and not
    counted against the model) corrections the admin list showed them; the caller scoped
    the ids to the actor's clinics. Accepting needs no second clinician, but an author
    does not accept their own. Returns (reviewed, skipped): already reviewed ones and
    the actor's own are skipped, not overwritten."""
    status = (
        LabelCorrection.ReviewStatus.ACCEPTED if accept else LabelCorrection.ReviewStatus.REJECTED
    )
    # Accepting confirms a proposal; rejecting may also overrule a colleague's confirmation.
    open_states = [LabelCorrection.ReviewStatus.PROPOSED]
    if not accept:
        open_states.append(LabelCorrection.ReviewStatus.CONFIRMED)
    reviewed = 0
    with transaction.atomic():
        rows = LabelCorrection.objects.select_for_update().filter(pk__in=correction_ids)
        for correction in rows.order_by("pk"):
            if (
                correction.review_status not in open_states
                or correction.corrected_by_id == actor.pk
            ):
                continue
            _review(correction, actor=actor, status=status)
            reviewed += 1
    return reviewed, len(set(correction_ids)) - reviewed


def _review(correction: LabelCorrection, *, actor: User, status: str) -> LabelCorrection:
    if correction.review_status != LabelCorrection.ReviewStatus.PROPOSED and (
        status != LabelCorrection.ReviewStatus.REJECTED
    ):
        raise CorrectionAlreadyReviewed(
            f"This correction is already {correction.get_review_status_display().lower()}."
        )
    correction.review_status = status
    correction.reviewed_by, correction.reviewed_at = actor, timezone.now()
    correction.save(update_fields=["review_status", "reviewed_by", "reviewed_at"])
    return correction
