import io
import os
from pathlib import Path

import joblib
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


MODEL_CACHE = Path(settings.BASE_DIR) / "var" / "test-cache"


def pytest_collection_modifyitems(config, items):
    # The lanes of make test-fast / make test: browser tests drive Chromium against the
    # live server, integration tests start real Celery worker processes.
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "browser" in parts:
            item.add_marker(pytest.mark.browser)
        if "integration" in parts:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def trained_triage_model():
    """The default model fit on the repository corpus (pure, no database), cached under
    var/test-cache by the corpus hash and variant: the suite fits it once per corpus
    change, not once per run."""
    rows = load_corpus(settings.TRIAGE_CORPUS_DIR)
    data_hash = corpus_hash(rows)
    cached = MODEL_CACHE / f"triage-{DEFAULT_VARIANT}-{data_hash[:16]}.joblib"
    if cached.exists():
        artifact = cached.read_bytes()
        model = joblib.load(io.BytesIO(artifact))
    else:
        model = fit_model(rows, DEFAULT_VARIANT)
        artifact = serialize_model(model)
        MODEL_CACHE.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(artifact)
        partial.replace(cached)  # atomic: a parallel run never reads half a file
    return model, artifact, data_hash


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
