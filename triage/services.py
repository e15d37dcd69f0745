"""Writes of the triage app: a message's classification, staff label corrections, the
cold-start request to train the default model, and an administrator's request to train
the transformer ensemble."""

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from inbox import services as inbox_services
from inbox.models import Message
from triage import tasks
from triage.classification import labels_for_batch
from triage.ml.classifier import TriageInput
from triage.model_training import ENSEMBLE_STALE_AFTER, RETRY_FAILED_AFTER, STALE_REQUEST_AFTER
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
        batch = inbox_services.lock_received_messages(
            first_id=message_id, limit=max(1, settings.TRIAGE_BATCH_SIZE)
        )
        classified = _classify_locked(batch)
    own = next((c for c in classified if c.message_id == message_id), None)
    if own is not None:
        return own
    # Classified already, or another worker's batch holds it: wait for that one.
    with transaction.atomic():
        message = inbox_services.lock_message(message_id=message_id)
        if message.status != Message.Status.RECEIVED:
            return Classification.objects.filter(message=message).first()
        return _classify_locked([message])[0]


def _classify_locked(messages: list[Message]) -> list[Classification]:
    """The caller holds these received messages' locks."""
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
    all_labels = labels_for_batch(items)
    if (
        any(labels["unclassified"] for labels in all_labels)
        and not ModelVersion.objects.filter(is_active=True).exists()
    ):
        request_default_model_training()
    classifications = []
    for message, labels in zip(messages, all_labels, strict=True):
        classifications.append(Classification.objects.create(message=message, **labels))
        inbox_services.mark_classified(message=message)
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


def _request_training(name: str, rearm_when: Q, enqueue, *, now) -> tuple[ModelTraining, bool]:
    """The gate row of a training: made by the first request; a later one re-arms it only
    when `rearm_when` holds. Conditional, so of concurrent requests one re-arms (the others
    see it requested). Enqueues after commit when made or re-armed."""
    with transaction.atomic():
        training, created = ModelTraining.objects.get_or_create(
            name=name, defaults={"requested_at": now}
        )
        rearmed = not created and ModelTraining.objects.filter(rearm_when, name=name).update(
            status=ModelTraining.Status.REQUESTED, requested_at=now, error=""
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
    """Staff moved a message to another role or acuity: a corrected label for training."""
    return LabelCorrection.objects.create(
        message=message,
        label=label,
        from_value=from_value,
        to_value=to_value,
        corrected_by=actor,
        reason=reason[:500],
    )
