"""A new installation has no active model: messages are still classified (as unclassified,
urgent, nurse triage, for review) and the default model is trained once on the slow queue.
Nothing here fits the full model (about 50 s): the training tests use the cached fixture
model."""

import logging

import pytest
from django.db import OperationalError
from django.utils import timezone

from inbox.models import Message
from tests.inbox.factories import MessageFactory
from triage import classification as classification_module
from triage import model_registry, tasks
from triage import services as triage_services
from triage.model_registry import register_model_version
from triage.model_training import RETRY_FAILED_AFTER, STALE_REQUEST_AFTER, run_requested_training
from triage.models import Classification, ModelTraining, ModelVersion

pytestmark = pytest.mark.django_db

NAME = tasks.DEFAULT_MODEL_TRAINING
UNCLASSIFIED = {
    "unclassified": True,
    "acuity": "urgent",
    "service_level": "nurse",
    "routing_service_level": "nurse",
    "needs_review": True,
    "model_version": None,
}


def training_enqueues(callbacks) -> list:
    return [c for c in callbacks if c is tasks.enqueue_default_model_training]


@pytest.fixture
def delays(monkeypatch) -> list:
    """train_default_model.delay() calls, recorded instead of sent (or run eagerly)."""
    calls = []

    class RecordedTask:
        @staticmethod
        def delay():
            calls.append(1)

    monkeypatch.setattr(tasks, "train_default_model", RecordedTask)
    return calls


@pytest.fixture
def fast_fit(monkeypatch, trained_triage_model) -> list:
    """fit_model returns the cached fixture model; the calls are recorded."""
    calls = []

    def fit(rows, variant):
        calls.append(variant)
        return trained_triage_model[0]

    monkeypatch.setattr(model_registry, "fit_model", fit)
    return calls


def set_training(status: str, **fields) -> ModelTraining:
    training, _ = ModelTraining.objects.update_or_create(
        name=NAME, defaults={"status": status, "requested_at": timezone.now(), **fields}
    )
    return training


# --- (a) classifying with no active model ------------------------------------------------


def test_two_messages_without_a_model_are_unclassified_and_train_once(
    django_capture_on_commit_callbacks, delays
):
    messages = [MessageFactory(), MessageFactory(body="chest pain since this morning")]

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        for message in messages:
            triage_services.classify(message_id=message.pk)

    for message in messages:
        stored = Classification.objects.get(message=message)
        assert {field: getattr(stored, field) for field in UNCLASSIFIED} == UNCLASSIFIED
        message.refresh_from_db()
        assert message.status == Message.Status.CLASSIFIED
    training = ModelTraining.objects.get()
    assert (training.name, training.status) == (NAME, ModelTraining.Status.REQUESTED)
    assert len(training_enqueues(callbacks)) == 1
    # The callbacks run after commit: exactly one training task is sent.
    for callback in callbacks:
        callback()
    assert len(delays) == 1


def test_classifying_with_an_active_model_requests_no_training(
    django_capture_on_commit_callbacks, active_model_version
):
    message = MessageFactory()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        classification = triage_services.classify(message_id=message.pk)

    assert not classification.unclassified
    assert classification.model_version_id == active_model_version.pk
    assert not ModelTraining.objects.exists()
    assert training_enqueues(callbacks) == []


# --- (b) the request gate ----------------------------------------------------------------


@pytest.mark.parametrize("status", [ModelTraining.Status.REQUESTED, ModelTraining.Status.RUNNING])
def test_a_request_while_one_is_pending_does_nothing(django_capture_on_commit_callbacks, status):
    training = set_training(status)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert triage_services.request_default_model_training() is False

    assert training_enqueues(callbacks) == []
    after = ModelTraining.objects.get()
    assert (after.status, after.requested_at) == (status, training.requested_at)


@pytest.mark.parametrize("status", [ModelTraining.Status.DONE, ModelTraining.Status.FAILED])
def test_a_request_after_the_last_training_ended_rearms_once(
    django_capture_on_commit_callbacks, status
):
    set_training(
        status,
        error="Training failed; the error is in the worker's log.",
        finished_at=timezone.now() - RETRY_FAILED_AFTER,
    )

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert triage_services.request_default_model_training() is True
        assert triage_services.request_default_model_training() is False

    assert len(training_enqueues(callbacks)) == 1
    after = ModelTraining.objects.get()
    assert (after.status, after.error) == (ModelTraining.Status.REQUESTED, "")


def test_a_failed_training_is_not_retried_back_to_back(django_capture_on_commit_callbacks):
    set_training(ModelTraining.Status.FAILED, finished_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert triage_services.request_default_model_training() is False

    assert training_enqueues(callbacks) == []
    assert ModelTraining.objects.get().status == ModelTraining.Status.FAILED


@pytest.mark.parametrize("status", [ModelTraining.Status.REQUESTED, ModelTraining.Status.RUNNING])
def test_a_stale_request_is_rearmed(django_capture_on_commit_callbacks, status):
    # The enqueue after commit failed, or the worker died while training: without this
    # the gate would stay shut and no model would ever be trained.
    set_training(status, requested_at=timezone.now() - STALE_REQUEST_AFTER)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert triage_services.request_default_model_training() is True
        assert triage_services.request_default_model_training() is False

    assert len(training_enqueues(callbacks)) == 1
    assert ModelTraining.objects.get().status == ModelTraining.Status.REQUESTED


# --- (c) running the requested training --------------------------------------------------


def test_a_redelivered_training_task_trains_once(fast_fit, delays):
    assert triage_services.request_default_model_training() is True

    first = run_requested_training(name=NAME)
    second = run_requested_training(name=NAME)

    assert len(fast_fit) == 1
    version = ModelVersion.objects.get()
    assert version.is_active
    assert (first.status, first.model_version_id) == (ModelTraining.Status.DONE, version.pk)
    assert first.started_at is not None
    assert first.finished_at is not None
    assert first.error == ""
    assert (second.pk, second.status, second.model_version_id) == (
        first.pk,
        ModelTraining.Status.DONE,
        version.pk,
    )
    # The trained model classifies the next message.
    classification = triage_services.classify(message_id=MessageFactory().pk)
    assert not classification.unclassified
    assert classification.model_version_id == version.pk


def test_the_task_runs_the_requested_training(fast_fit):
    triage_services.request_default_model_training()

    tasks.train_default_model.apply().get()  # as the slow worker runs it

    assert ModelTraining.objects.get().status == ModelTraining.Status.DONE
    trained = ModelVersion.objects.get(is_active=True)
    assert len(fast_fit) == 1
    # The next message is classified by it, no longer as unclassified.
    classification = triage_services.classify(message_id=MessageFactory().pk)
    assert not classification.unclassified
    assert classification.model_version_id == trained.pk


def test_a_failed_training_ends_failed_with_a_plain_error(monkeypatch, caplog, delays):
    phi = "Jane Roe MRN 0042 chest pain"

    def failing_fit(rows, variant):
        raise ValueError(f"could not fit on {phi}")

    monkeypatch.setattr(model_registry, "fit_model", failing_fit)
    triage_services.request_default_model_training()

    with caplog.at_level(logging.ERROR, logger="triage.model_training"):
        training = run_requested_training(name=NAME)

    training.refresh_from_db()
    assert training.status == ModelTraining.Status.FAILED
    assert training.model_version is None
    assert training.finished_at is not None
    assert training.error == "Training failed; the error is in the worker's log."
    assert "Jane" not in training.error
    assert not ModelVersion.objects.exists()
    # The details are in the worker's log only.
    assert "training the default triage model failed" in caplog.text
    # Not straight away (a repeating failure would hold the slow queue); after the pause
    # the next message re-arms the request once.
    assert triage_services.request_default_model_training() is False
    ModelTraining.objects.update(finished_at=timezone.now() - RETRY_FAILED_AFTER)
    assert triage_services.request_default_model_training() is True
    assert triage_services.request_default_model_training() is False


def test_a_model_active_before_training_starts_is_not_replaced(
    fast_fit, delays, active_model_version
):
    set_training(ModelTraining.Status.REQUESTED)

    training = run_requested_training(name=NAME)

    assert fast_fit == []  # nothing fit
    assert (training.status, training.model_version) == (ModelTraining.Status.DONE, None)
    assert ModelVersion.objects.get(is_active=True).pk == active_model_version.pk
    assert ModelVersion.objects.count() == 1


def test_a_model_promoted_while_training_is_not_replaced(monkeypatch, delays, trained_triage_model):
    model, artifact, data_hash = trained_triage_model
    promoted = []

    def fit_while_staff_promote(rows, variant):
        promoted.append(
            register_model_version(
                model=model, artifact=artifact, name="promoted", training_data_hash=data_hash
            )
        )
        return model

    monkeypatch.setattr(model_registry, "fit_model", fit_while_staff_promote)
    set_training(ModelTraining.Status.REQUESTED)

    training = run_requested_training(name=NAME)

    assert ModelVersion.objects.get(is_active=True).pk == promoted[0].pk
    # The default model is kept, inactive, for staff to promote if they wish.
    assert training.status == ModelTraining.Status.DONE
    assert training.model_version is not None
    assert not training.model_version.is_active
    assert ModelVersion.objects.count() == 2


# --- (d) errors from the model call ------------------------------------------------------


def test_a_database_error_from_the_model_propagates_and_stores_nothing(monkeypatch, delays):
    def database_gone(items, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(classification_module, "predict_triage", database_gone)
    message = MessageFactory()

    with pytest.raises(OperationalError):
        triage_services.classify(message_id=message.pk)

    assert not Classification.objects.exists()
    assert not ModelTraining.objects.exists()
    message.refresh_from_db()
    assert message.status == Message.Status.RECEIVED  # the task's retry classifies it


def test_a_failing_model_gives_the_unclassified_labels(
    monkeypatch, django_capture_on_commit_callbacks, active_model_version
):
    def broken_model(items, **kwargs):
        raise RuntimeError("model file unreadable")

    monkeypatch.setattr(classification_module, "predict_triage", broken_model)
    message = MessageFactory()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        classification = triage_services.classify(message_id=message.pk)

    stored = Classification.objects.get(message=message)
    assert stored.pk == classification.pk
    assert {field: getattr(stored, field) for field in UNCLASSIFIED} == UNCLASSIFIED
    # A model is active, it failed: nothing to train.
    assert not ModelTraining.objects.exists()
    assert training_enqueues(callbacks) == []
