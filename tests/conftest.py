import io
import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import joblib
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from config.celery import app as celery_app
from config.settings import cache_beside_broker
from tests import model_cache
from triage.ml.classifier import DEFAULT_VARIANT
from triage.ml.corpus import corpus_hash, load_corpus
from triage.ml.training import fit_model
from triage.model_registry import register_model_version, serialize_model


def _own_redis_databases_under_xdist() -> None:
    # pytest-django gives each xdist worker its own test database; this gives each its own
    # two Redis databases (the broker, and the cache where the settings put it beside the
    # broker), so one worker's flush or rate limit never reaches another's. gw0 keeps the
    # suite's URL: db 15 and cache 0; gw1 takes 13 and 14, gw2 11 and 12, and so on.
    # Celery reads the environment variable, Django the setting, and a worker process
    # started by a test is given the setting.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    url = settings.CELERY_BROKER_URL
    if worker == "gw0" or not url.startswith("redis://") or os.environ.get("CACHE_URL"):
        return
    parts = urlsplit(url)
    broker_db = int(parts.path.strip("/") or 0) - 2 * int(worker.removeprefix("gw"))
    if broker_db < 0:
        raise pytest.UsageError(
            f"{worker}: too many xdist workers for the 16 Redis databases (at most 8)"
        )
    url = urlunsplit(parts._replace(path=f"/{broker_db}"))
    os.environ["CELERY_BROKER_URL"] = settings.CELERY_BROKER_URL = url
    settings.CACHES["default"]["LOCATION"] = cache_beside_broker(url)


_own_redis_databases_under_xdist()


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


_background_fit = None


def _start_fitting_if_needed(items) -> None:
    # Fit the suite's model in its own process as soon as the tests are collected, unless
    # it is cached or no test needs it: the tests that need no model run meanwhile (a
    # fresh clone saves most of the fit's time).
    global _background_fit
    if not any("trained_triage_model" in item.fixturenames for item in items):
        return
    rows = load_corpus(settings.TRIAGE_CORPUS_DIR)
    if not model_cache.cache_path(corpus_hash(rows), DEFAULT_VARIANT).exists():
        _background_fit = model_cache.start_background_fit()


def pytest_sessionfinish(session, exitstatus):
    if _background_fit is not None and _background_fit.poll() is None:
        _background_fit.terminate()


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    # The lanes of make test-fast / make test: browser tests drive Chromium against the
    # live server, integration tests start real Celery worker processes.
    # Under pytest-xdist (make test), each lane runs in one worker, one test at a time:
    # real worker processes and Chromium are not multiplied, and the other worker runs
    # the unit tests beside them.
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "browser" in parts:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.xdist_group("browser"))
        if "integration" in parts:
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.xdist_group("integration"))


def pytest_collection_finish(session):
    _start_fitting_if_needed(session.items)  # the items left after -m/-k deselection


@pytest.fixture(scope="session")
def trained_triage_model():
    """The default model fit on the repository corpus (pure, no database), cached under
    var/test-cache by the corpus hash and variant: the suite fits it once per corpus
    change, not once per run."""
    rows = load_corpus(settings.TRIAGE_CORPUS_DIR)
    data_hash = corpus_hash(rows)
    cached = model_cache.cache_path(data_hash, DEFAULT_VARIANT)
    if model_cache.wait_for(cached, _background_fit):
        artifact = cached.read_bytes()
        model = joblib.load(io.BytesIO(artifact))
    else:  # the background fit failed (its log: var/test-cache/fit-*.log): fit here
        model = fit_model(rows, DEFAULT_VARIANT)
        artifact = serialize_model(model)
        model_cache.write_atomically(cached, artifact)
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
