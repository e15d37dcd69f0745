import pytest
from django.conf import settings
from rest_framework.test import APIClient

from config.celery import app as celery_app
from triage.ml.classifier import DEFAULT_VARIANT
from triage.ml.corpus import corpus_hash, load_corpus
from triage.ml.training import fit_model
from triage.model_registry import register_model_version, serialize_model


@pytest.fixture(autouse=True)
def _celery_in_process_unless_integration(request):
    # Unit tests run tasks in-process; tests marked integration talk to a real worker.
    eager = request.node.get_closest_marker("integration") is None
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = eager
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Production hashes passwords slowly on purpose (PBKDF2, about half a second here);
    # the suite makes hundreds of users and signs in thousands of times.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def trained_triage_model():
    """Trained once per test session from the repository corpus (pure, no database)."""
    rows = load_corpus(settings.TRIAGE_CORPUS_DIR)
    model = fit_model(rows, DEFAULT_VARIANT)
    return model, serialize_model(model), corpus_hash(rows)


@pytest.fixture
def active_model_version(db, trained_triage_model):
    model, artifact, data_hash = trained_triage_model
    return register_model_version(
        model=model, artifact=artifact, name="test-model", training_data_hash=data_hash
    )


@pytest.fixture
def client_for():
    def make(user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make
