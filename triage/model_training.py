"""Training the default model for a new installation (the cold start), run by the slow
queue's task. Kept apart from triage.services so the task module need not import it."""

import datetime
import logging
from collections.abc import Callable
from functools import partial

from django.db import transaction
from django.utils import timezone

from triage.candidate_training import train_candidate_model_version
from triage.ml.ensemble import TrainingUnavailable, require_pytorch
from triage.model_registry import train_default_model_version, train_ensemble_model_version
from triage.models import ModelTraining, ModelVersion

logger = logging.getLogger(__name__)

# A request still requested or running this long after it was made was lost: the enqueue
# after commit failed, or the worker died while training (its redelivered task finds the
# request running and does nothing). The next request re-arms it (triage.services).
# Training takes about a minute; a slow-queue backlog of replays may take longer.
STALE_REQUEST_AFTER = datetime.timedelta(minutes=30)
# A failed training is tried again by the next message only after this pause: a failure
# that repeats (a missing corpus) must not keep the slow queue training back to back.
RETRY_FAILED_AFTER = datetime.timedelta(minutes=10)
# The ensemble fine-tunes MiniLM ten times (five models, each two fine-tunes averaged):
# about 90 minutes on two cores. A request older than this is taken as lost and may be
# made again.
ENSEMBLE_STALE_AFTER = datetime.timedelta(hours=4)
# A candidate fits the TF-IDF model twice: about a minute on two cores.
CANDIDATE_STALE_AFTER = datetime.timedelta(hours=1)


def run_requested_training(*, name: str) -> ModelTraining | None:
    """Train the default model if a request is waiting. Safe to run twice: the request is
    taken with a conditional update, so a redelivered task finds nothing to do."""
    if not _take(name):
        return ModelTraining.objects.filter(name=name).first()
    if ModelVersion.objects.filter(is_active=True).exists():
        # Someone promoted a model meanwhile: never replace it with the default.
        return _finish(name, status=ModelTraining.Status.DONE, version=None)
    # Not replacing: a model promoted while this one was fitting stays active.
    return _train(
        name, "the default triage model", partial(train_default_model_version, replace_active=False)
    )


def run_ensemble_training(*, name: str) -> ModelTraining | None:
    """Train the transformer ensemble if an administrator asked for it (the admin's
    action). The version is stored inactive, with its out-of-fold figures, for a
    superuser to promote; the active model is never replaced by this task."""
    if not _take(name):
        return ModelTraining.objects.filter(name=name).first()
    try:
        require_pytorch()
    except TrainingUnavailable as exc:
        return _finish(name, status=ModelTraining.Status.FAILED, version=None, error=str(exc))
    return _train(
        name,
        "the transformer ensemble",
        partial(
            train_ensemble_model_version,
            activate=False,
            progress=partial(_record_progress, name),
        ),
    )


def run_candidate_training(*, name: str) -> ModelTraining | None:
    """Train a candidate on the corpus plus reviewed corrections if a superuser asked for
    it. Stored inactive, for shadow and promotion; the row tells the admin page how far
    it is."""
    if not _take(name):
        return ModelTraining.objects.filter(name=name).first()
    return _train(
        name,
        "a candidate model",
        partial(train_candidate_model_version, progress=partial(_record_progress, name)),
    )


def _record_progress(name: str, step: int, total: int, what: str) -> None:
    ModelTraining.objects.filter(name=name).update(
        progress_step=step, progress_total=total, progress_note=what[:200]
    )


def _take(name: str) -> bool:
    """requested -> running, by one caller only (a conditional update)."""
    return bool(
        ModelTraining.objects.filter(name=name, status=ModelTraining.Status.REQUESTED).update(
            status=ModelTraining.Status.RUNNING, started_at=timezone.now()
        )
    )


def _train(name: str, what: str, train: Callable[[], ModelVersion]) -> ModelTraining:
    try:
        version = train()
    except Exception:
        logger.exception("training %s failed", what)
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
