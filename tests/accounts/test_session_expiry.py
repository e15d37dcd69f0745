"""The stored session lasts the idle window from the last click, for the API too; the
cookie lasts until the browser closes, so a page left open past the window is told
"signed out after inactivity" like any idle sign-out."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.utils import timezone

from routing import services
from tests.accounts.factories import ClinicFactory, StaffFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # the factories' default
COOKIE = django_settings.SESSION_COOKIE_NAME


@pytest.fixture
def nurse():
    clinic = ClinicFactory()
    services.ensure_default_queues(clinic=clinic)
    return StaffFactory(username="rn.expiry", clinic=clinic)


def log_in(client):
    response = client.post("/login/", {"username": "rn.expiry", "password": PASSWORD})
    assert response.status_code == 302
    return response


def expire_stored_session(client) -> None:
    Session.objects.filter(session_key=client.cookies[COOKIE].value).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )


def test_the_session_lasts_the_idle_window():
    assert django_settings.SESSION_COOKIE_AGE == django_settings.SESSION_IDLE_TIMEOUT_SECONDS
    assert django_settings.SESSION_EXPIRE_AT_BROWSER_CLOSE


def test_the_stored_session_ends_one_idle_window_after_the_last_click(client, nurse):
    log_in(client)
    assert client.get("/work/").status_code == 200

    stored = Session.objects.get(session_key=client.cookies[COOKIE].value)
    window = timedelta(seconds=django_settings.SESSION_IDLE_TIMEOUT_SECONDS)
    assert timezone.now() + window - timedelta(seconds=30) < stored.expire_date
    assert stored.expire_date <= timezone.now() + window


def test_the_cookie_ends_with_the_browser(client, nurse):
    cookie = log_in(client).cookies[COOKIE]

    assert cookie["max-age"] == ""
    assert cookie["expires"] == ""


def test_a_page_after_the_stored_session_expired_says_signed_out_for_inactivity(client, nurse):
    log_in(client)
    expire_stored_session(client)

    response = client.get("/work/")

    assert response.status_code == 302
    assert response["Location"] == "/login/?idle=1"
    assert response.cookies[COOKIE].value == ""  # the dead cookie is deleted
    assert client.get("/work/")["Location"].startswith("/login/?next=")  # and said once


def test_a_background_refresh_after_it_expired_takes_the_whole_page_to_the_login(client, nurse):
    log_in(client)
    expire_stored_session(client)

    response = client.get("/work/rows", headers={"hx-request": "true", "x-background-poll": "1"})

    assert response.status_code == 204
    assert response["HX-Redirect"] == "/login/?idle=1"


def test_the_api_refuses_an_expired_session_without_a_redirect(client, nurse):
    log_in(client)
    assert client.get("/api/v1/work-items").status_code == 200
    expire_stored_session(client)

    response = client.get("/api/v1/work-items")

    assert response.status_code in {401, 403}
    assert response["Content-Type"] == "application/json"


def test_the_login_pages_themselves_are_shown_with_an_expired_cookie(client, nurse):
    log_in(client)
    expire_stored_session(client)

    assert client.get("/login/").status_code == 200
    assert client.get("/admin/login/").status_code == 200
    assert log_in(client)["Location"] == "/"


def test_without_a_session_cookie_a_page_asks_to_log_in_as_usual(client, nurse):
    response = client.get("/work/")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/work/"
