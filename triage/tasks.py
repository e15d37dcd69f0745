"""Celery tasks of the triage app: thin wrappers."""

from celery import shared_task

from config.celery import DATABASE_RETRY
from triage.model_training import (
    run_candidate_training,
    run_ensemble_training,
    run_requested_training,
)

DEFAULT_MODEL_TRAINING = "default-model"
ENSEMBLE_TRAINING = "transformer-ensemble"
CANDIDATE_TRAINING = "candidate"


@shared_task(**DATABASE_RETRY)
def train_default_model() -> None:
    run_requested_training(name=DEFAULT_MODEL_TRAINING)


def enqueue_default_model_training() -> None:
    # A named callable for transaction.on_commit (its robust mode logs the qualname).
    train_default_model.delay()


@shared_task(**DATABASE_RETRY)
def train_ensemble_model() -> None:
    run_ensemble_training(name=ENSEMBLE_TRAINING)


def enqueue_ensemble_training() -> None:
    train_ensemble_model.delay()


@shared_task(**DATABASE_RETRY)
def train_candidate_model() -> None:
    run_candidate_training(name=CANDIDATE_TRAINING)


def enqueue_candidate_training() -> None:
    train_candidate_model.delay()
