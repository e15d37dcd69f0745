"""Training the default model for a new installation (the cold start), run by the slow
queue's task. Kept apart from triage.services so the task module need not import it."""

import logging

from django.db import transaction
from django.utils import timezone

from triage.model_registry import train_default_model_version
from triage.models import ModelTraining, ModelVersion

logger = logging.getLogger(__name__)


def run_requested_training(*, name: str) -> ModelTraining | None:
    """Train the default model if a request is waiting. Safe to run twice: the request is
    taken with a conditional update, so a redelivered task finds nothing to do."""
    taken = ModelTraining.objects.filter(name=name, status=ModelTraining.Status.REQUESTED).update(
        status=ModelTraining.Status.RUNNING, started_at=timezone.now()
    )
    if not taken:
        return ModelTraining.objects.filter(name=name).first()
    if ModelVersion.objects.filter(is_active=True).exists():
        # Someone promoted a model meanwhile: never replace it with the default.
        return _finish(name, status=ModelTraining.Status.DONE, version=None)
    try:
        version = train_default_model_version()
    except Exception:
        logger.exception("training the default triage model failed")
        return _finish(
            name,
            status=ModelTraining.Status.FAILED,
            version=None,
            error="Training failed; the error is in the worker's log.",
        )
    return _finish(name, status=ModelTraining.Status.DONE, version=version)


def _finish(name, *, status, version, error="") -> ModelTraining:
    with transaction.atomic():
        training = ModelTraining.objects.select_for_update().get(name=name)
        training.status, training.model_version = status, version
        training.finished_at, training.error = timezone.now(), error
        training.save()
    return training
