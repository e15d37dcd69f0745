"""Honest answers under faults: a broker that is down or hung does not fail or hold the
portal's post (the message is stored; the sweep enqueues it later), an unreachable
database is a 503 with Retry-After, and nothing under /api/ is ever an HTML page.

The faults are real: the broker is a closed port or a socket that never answers, the
database a closed port psycopg really fails to reach. Nothing is mocked."""

import contextlib
import datetime
import socket
import threading
import time

import pytest
from django.db import connection
from django.test import Client
from django.urls import path
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.services import issue_api_token
from config.urls import urlpatterns as app_urlpatterns
from inbox.models import Message
from pipeline.tasks import requeue_stuck
from tests.accounts.factories import ClinicFactory, IntegrationFactory, StaffFactory
from tests.faults import broker_at, free_port

URL = "/api/v1/messages"


def message_payload(clinic, external_id: str = "portal-1") -> dict:
    return {
        "external_id": external_id,
        "clinic": clinic.slug,
        "patient": {"mrn": "A-1"},
        "body": "Can I take ibuprofen with my new prescription?",
    }


@pytest.fixture
def hung_broker():
    """A port that accepts connections (the kernel completes them) and never answers: Redis
    frozen, or a half-open connection through a firewall."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


def post_within(client, payload: dict, *, seconds: float):
    """The post, run in a thread so that a hang fails the test instead of stalling it."""
    outcome = {}

    def run() -> None:
        started = time.monotonic()
        try:
            outcome["response"] = client.post(URL, payload, format="json")
        finally:
            outcome["elapsed"] = time.monotonic() - started
            connection.close()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"the post did not answer within {seconds} s"
    return outcome["response"], outcome["elapsed"]


# --- the broker is down ------------------------------------------------------------------


@pytest.mark.parametrize("broker", ["closed port", "hung"])
def test_post_answers_201_quickly_and_stores_the_message_when_the_broker_is_down(
    transactional_db, active_model_version, broker, hung_broker, client_for, caplog
):
    # given
    clinic = ClinicFactory(slug="onc")
    portal = IntegrationFactory(clinic=clinic).account
    url = f"redis://127.0.0.1:{free_port()}/0" if broker == "closed port" else hung_broker

    # when
    with broker_at(url):
        response, elapsed = post_within(client_for(portal), message_payload(clinic), seconds=10)

    # then
    assert response.status_code == 201, response.content
    assert elapsed < 2.0, f"the post took {elapsed:.2f} s"
    # The enqueue really tried this broker, and failed after the commit, not into the post.
    assert any("in on_commit()" in r.getMessage() for r in caplog.records)
    message = Message.objects.get(pk=response.json()["id"])
    assert message.status == Message.Status.RECEIVED
    # Later the broker is back (here: tasks in-process) and the sweep enqueues it again.
    assert requeue_stuck(now=timezone.now() + datetime.timedelta(hours=1)) == 1
    message.refresh_from_db()
    assert message.status == Message.Status.ROUTED


def test_a_retried_post_after_the_broker_outage_is_the_same_message(
    transactional_db, active_model_version, client_for
):
    clinic = ClinicFactory(slug="onc")
    client = client_for(IntegrationFactory(clinic=clinic).account)
    with broker_at(f"redis://127.0.0.1:{free_port()}/0"):
        first = client.post(URL, message_payload(clinic), format="json")
    again = client.post(URL, message_payload(clinic), format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Message.objects.count() == 1


# --- the database is unreachable ---------------------------------------------------------


@pytest.fixture
def database_down(transactional_db):
    """The default connection pointed at a closed port: every query of the request really
    fails to connect (psycopg's OperationalError), until the fixture restores it."""

    @contextlib.contextmanager
    def down():
        saved_port = connection.settings_dict["PORT"]
        connection.close()
        connection.settings_dict["PORT"] = str(free_port())
        try:
            yield
        finally:
            connection.close()
            connection.settings_dict["PORT"] = saved_port

    return down


def assert_503_json(response) -> None:
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "database_unavailable"
    assert "try again" in response.json()["detail"]
    assert 5 <= int(response["Retry-After"]) <= 60


@pytest.mark.parametrize("debug", [False, True])
def test_api_answers_503_json_with_retry_after_when_the_database_is_down(
    database_down, active_model_version, settings, debug
):
    settings.DEBUG = debug
    settings.DATABASE_UNAVAILABLE_RETRY_AFTER_SECONDS = 17
    clinic = ClinicFactory(slug="onc")
    _, token = issue_api_token(user=IntegrationFactory(clinic=clinic).account, created_by=None)
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    with database_down():
        response = client.post(URL, message_payload(clinic), format="json")

    assert_503_json(response)
    assert response["Retry-After"] == "17"
    # The portal retries with the same external_id once the database is back.
    retried = client.post(URL, message_payload(clinic), format="json")
    assert retried.status_code == 201, retried.content
    assert Message.objects.count() == 1


def test_a_non_drf_view_under_the_api_answers_503_json_too(database_down, settings):
    # The exception reaches the middleware, not DRF's handler.
    settings.ROOT_URLCONF = __name__
    with database_down():
        response = Client(raise_request_exception=False).get("/api/test/reads-the-database")
    assert_503_json(response)


def test_screens_show_a_plain_try_again_page_when_the_database_is_down(database_down, settings):
    # DEBUG off, as in production: the session is read (and fails) in middleware, before
    # any view, so this is handler500's answer.
    settings.DEBUG = False
    nurse = StaffFactory(role=Role.NURSE)
    browser = Client(raise_request_exception=False)
    browser.force_login(nurse)

    with database_down():
        response = browser.get("/work/")

    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert 5 <= int(response["Retry-After"]) <= 60
    page = response.content.decode()
    assert "Try again in a moment" in page
    assert "Traceback" not in page
    assert nurse.username not in page  # the page needs nothing from the database


# --- never HTML under /api/ --------------------------------------------------------------


def view_that_fails(request):
    raise RuntimeError("a bug in a view")


def view_that_reads_the_database(request):
    Message.objects.exists()


urlpatterns = [
    *app_urlpatterns,
    path("api/test/fails", view_that_fails),
    path("api/test/reads-the-database", view_that_reads_the_database),
    path("test/fails", view_that_fails),
]
handler400 = "config.errors.bad_request"
handler403 = "config.errors.permission_denied"
handler404 = "config.errors.page_not_found"
handler500 = "config.errors.server_error"


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_an_unhandled_error_under_the_api_is_json_500_with_a_reference(settings, debug, caplog):
    settings.DEBUG = debug
    settings.ROOT_URLCONF = __name__

    response = Client(raise_request_exception=False).get("/api/test/fails")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "server_error"
    assert body["reference"] in body["detail"]
    assert "a bug in a view" not in response.content.decode()
    # The traceback is in the log under the same reference.
    assert any(body["reference"] in r.getMessage() and r.exc_info for r in caplog.records)


@pytest.mark.django_db
def test_the_test_client_still_raises_the_real_error_of_a_broken_api_view(settings):
    settings.ROOT_URLCONF = __name__
    with pytest.raises(RuntimeError, match="a bug in a view"):
        Client().get("/api/test/fails")


@pytest.mark.django_db
def test_an_unhandled_error_on_a_screen_keeps_djangos_500_page(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = __name__
    response = Client(raise_request_exception=False).get("/test/fails")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["/api/v2/messages", "/api/nothing-here", "/api/v1/messages/1/nothing", "/fhir/Nothing"]
)
def test_an_unknown_api_path_is_json_404(settings, url):
    settings.DEBUG = False
    response = Client().get(url)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"code": "not_found", "detail": "Not found."}


@pytest.mark.django_db
def test_an_unknown_screen_path_is_still_an_html_404(settings):
    settings.DEBUG = False
    response = Client().get("/nothing-here/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_a_suspicious_request_under_the_api_is_json_400(settings):
    # A Host header outside ALLOWED_HOSTS is a SuspiciousOperation: Django answers 400.
    settings.DEBUG = False
    response = Client().post(
        URL, "{}", content_type="application/json", HTTP_HOST="attacker.example"
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "bad_request"
