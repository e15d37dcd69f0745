"""Keeping a session alive from the idle warning or while typing a reply."""

import time

import pytest

from accounts.middleware import LAST_ACTIVITY
from routing import services
from tests.accounts.factories import ClinicFactory, StaffFactory

pytestmark = pytest.mark.django_db


def idle_for(client, seconds: float) -> None:
    session = client.session
    session[LAST_ACTIVITY] = time.time() - seconds
    session.save()


@pytest.fixture
def nurse(client):
    clinic = ClinicFactory()
    services.ensure_default_queues(clinic=clinic)
    user = StaffFactory(clinic=clinic)
    client.force_login(user)
    assert client.get("/work/").status_code == 200
    return user


def test_keep_alive_counts_as_activity(client, settings, nurse):
    settings.SESSION_IDLE_TIMEOUT_SECONDS = 60
    idle_for(client, 50)
    assert client.post("/session/keep-alive").status_code == 204
    assert client.session[LAST_ACTIVITY] > time.time() - 5
    idle_for(client, 50)
    assert client.get("/work/").status_code == 200  # 50 + 50 s idle, but not in a row


def test_keep_alive_after_the_timeout_does_not_revive_the_session(client, settings, nurse):
    settings.SESSION_IDLE_TIMEOUT_SECONDS = 60
    idle_for(client, 61)
    response = client.post("/session/keep-alive")
    assert response.status_code == 302
    assert response.url.startswith("/login/?idle=1")
    assert client.get("/work/").url.startswith("/login/")


def test_keep_alive_needs_a_signed_in_post(client, nurse):
    assert client.get("/session/keep-alive").status_code == 405
    client.logout()
    response = client.post("/session/keep-alive")
    assert response.status_code == 302
    assert response.url.startswith("/login/")


def test_pages_tell_the_browser_the_idle_timeout(client, settings, nurse):
    settings.SESSION_IDLE_TIMEOUT_SECONDS = 600
    page = client.get("/work/").content.decode()
    assert 'data-idle-timeout="600"' in page
    assert 'id="idle-warning"' in page
    client.logout()
    assert "data-idle-timeout" not in client.get("/login/").content.decode()
