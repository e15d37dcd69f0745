"""GET /health/live and /health/ready: for probes, no login, no PHI, never cached."""

import datetime
import time

import pytest
from django.db import DatabaseError
from django.test import Client
from django.utils import timezone

from inbox.models import Message
from pipeline import health
from tests.inbox.factories import MessageFactory

pytestmark = pytest.mark.django_db

SECRET_BODY = "Patient has crushing chest pain"


@pytest.fixture
def ready_deployment(settings, active_model_version):
    settings.CELERY_BROKER_URL = ""  # in-process: nothing to reach
    settings.UNROUTED_ALERT_MINUTES = 10


def get(url: str):
    return Client().get(url)


def test_live_answers_ok_without_login_or_cache():
    response = get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-store" in response["Cache-Control"]


def test_ready_answers_ok_with_every_check_named(ready_deployment):
    MessageFactory(body=SECRET_BODY)  # just stored: waiting, not late

    response = get("/health/ready")

    assert response.status_code == 200, response.json()
    answer = response.json()
    assert answer["status"] == "ok"
    assert answer["failing"] == []
    assert set(answer["checks"]) == {"database", "broker", "model", "unrouted"}
    assert answer["checks"]["broker"] == {
        "ok": True,
        "detail": "in-process (no broker configured)",
    }
    assert answer["unrouted"]["count"] == 1
    assert 0 <= answer["unrouted"]["oldest_age_seconds"] < 5
    assert "no-store" in response["Cache-Control"]
    assert SECRET_BODY not in response.content.decode()


def test_ready_fails_without_an_active_model(ready_deployment, active_model_version):
    active_model_version.is_active = False
    active_model_version.save()

    response = get("/health/ready")

    assert response.status_code == 503
    assert response.json()["failing"] == ["model"]
    assert response.json()["checks"]["model"]["detail"] == "no active triage model"


def test_ready_fails_when_a_message_waits_past_the_threshold(ready_deployment):
    late = MessageFactory(body=SECRET_BODY)
    Message.objects.filter(pk=late.pk).update(
        created_at=timezone.now() - datetime.timedelta(minutes=11)
    )
    MessageFactory()

    response = get("/health/ready")

    answer = response.json()
    assert response.status_code == 503
    assert answer["failing"] == ["unrouted"]
    assert answer["unrouted"]["count"] == 2
    assert answer["unrouted"]["oldest_age_seconds"] >= 660
    assert SECRET_BODY not in response.content.decode()


def test_routed_messages_do_not_count_as_waiting(ready_deployment):
    MessageFactory(status=Message.Status.ROUTED, created_at=timezone.now())
    Message.objects.update(created_at=timezone.now() - datetime.timedelta(hours=2))

    answer = get("/health/ready").json()

    assert answer["unrouted"] == {
        "count": 0,
        "oldest_age_seconds": None,
        "alert_after_seconds": 600,
    }


def test_ready_fails_fast_when_the_broker_does_not_answer(ready_deployment, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    started = time.monotonic()
    response = get("/health/ready")
    seconds = time.monotonic() - started

    assert response.status_code == 503
    assert response.json()["failing"] == ["broker"]
    assert response.json()["checks"]["broker"]["detail"].startswith("unreachable")
    assert seconds <= 3


def test_ready_names_the_database_when_it_does_not_answer(ready_deployment, monkeypatch):
    # The database itself cannot be stopped under the test run; its cursor can fail.
    def refuse(*args, **kwargs):
        raise DatabaseError("connection refused")

    monkeypatch.setattr(health.connection, "cursor", refuse)

    response = get("/health/ready")

    answer = response.json()
    assert response.status_code == 503
    assert answer["failing"] == ["database", "model", "unrouted"]
    assert answer["checks"]["database"] == {"ok": False, "detail": "unreachable (DatabaseError)"}
    assert answer["checks"]["model"]["detail"] == "database unavailable"
