"""Faults with real Redis, PostgreSQL and worker processes, each on a private instance the
test stops and starts (never the shared ones): the portal always gets an honest answer,
and every accepted message is routed exactly once after the fault passes.

- Redis stopped during 300 posts: every post answers 201 (the message is stored; its
  enqueue fails after the commit, not into the request), and the stuck-message sweep
  routes the ones whose tasks were lost once Redis is back.
- PostgreSQL stopped under a live HTTP server: the API answers 503 JSON with Retry-After
  (not HTML, not a hang); the portal retries with the same external_id; all routed once.
"""

import collections
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

from inbox.models import Message
from routing.models import WorkEvent, WorkItem
from tests.accounts.factories import ClinicFactory, IntegrationFactory
from tests.faults import PrivatePostgres, PrivateRedis, broker_at, free_port, wait_for_port
from tests.integration.test_thousand_messages_routed_once import (
    ROUTING_KINDS,
    wait_until_routed,
)
from triage.ml.corpus import load_corpus

URL = "/api/v1/messages"
# Longer than the slowest honest answer (a publish to a dead broker gives up in about a
# second, config/settings.py): a post that takes this long counts as a hang.
CLIENT_TIMEOUT_SECONDS = 5.0
# The beat of the workers under test sweeps every second for messages stuck 3 s.
FAST_SWEEP = {"STUCK_MESSAGE_AFTER_SECONDS": 3, "SWEEP_INTERVAL_SECONDS": 1}


def message_payload(n: int, *, clinic_slug: str = "onc") -> dict:
    rows = load_corpus(settings.TRIAGE_CORPUS_DIR)
    row = rows[(n * 7) % len(rows)]
    return {
        "external_id": f"m-{n}",
        "clinic": clinic_slug,
        "patient": {"mrn": f"mrn-{n % 40}"},
        "subject": row.subject,
        "body": row.body,
    }


# --- Redis stopped ------------------------------------------------------------------------


def test_redis_stopped_during_300_posts_every_post_answers_201_and_all_are_routed_once(
    workers, active_model_version, client_for, tmp_path
):
    # given: a portal posting to the app, and a worker (with beat), both on a private Redis
    clinic = ClinicFactory(slug="onc")
    portal = client_for(IntegrationFactory(clinic=clinic).account)
    redis = PrivateRedis(tmp_path)
    redis.start()
    answers: list[tuple[int, int, float]] = []  # (n, status, seconds)
    ids = []
    try:
        with broker_at(redis.url):
            workers.start("w1", beat=True, CELERY_BROKER_URL=redis.url, **FAST_SWEEP)

            # when: Redis stops after 100 posts and comes back after 200 (at least 10 s)
            stopped_at = None
            for n in range(300):
                if n == 100:
                    redis.stop()
                    stopped_at = time.monotonic()
                if n == 200:
                    time.sleep(max(0.0, 10 - (time.monotonic() - stopped_at)))
                    outage = time.monotonic() - stopped_at
                    redis.start()
                started = time.monotonic()
                response = portal.post(URL, message_payload(n), format="json")
                answers.append((n, response.status_code, time.monotonic() - started))
                assert response.status_code == 201, (n, response.status_code, response.content)
                ids.append(response.json()["id"])

            # then: nothing lost, nothing routed twice
            back_at = time.monotonic()
            routed = wait_until_routed(ids, seconds=90)
            all_routed_in = time.monotonic() - back_at
            assert routed == 300, f"only {routed} of 300 routed after Redis came back"
            counts = assert_each_routed_once(ids)
    finally:
        workers.stop_all()  # before Redis goes: a worker's warm shutdown needs its broker
        redis.stop()

    during = [seconds for n, _, seconds in answers if 100 <= n < 200]
    assert max(during) < 2.0, f"a post during the outage took {max(during):.2f} s"
    print(
        f"Redis down {outage:.1f} s during posts 100-199: 300/300 answered 201; post "
        f"latency during the outage median {statistics.median(during) * 1000:.0f} ms, max "
        f"{max(during) * 1000:.0f} ms; all routed {all_routed_in:.1f} s after the last post; "
        f"{counts}"
    )


def assert_each_routed_once(ids: list[int]) -> dict:
    assert not Message.objects.filter(pk__in=ids).exclude(status=Message.Status.ROUTED).exists()
    events = collections.Counter(
        WorkEvent.objects.filter(kind__in=ROUTING_KINDS, message_id__in=ids).values_list(
            "message_id", flat=True
        )
    )
    not_once = [m for m in ids if events[m] != 1]
    assert not_once == [], f"{len(not_once)} messages not routed exactly once"
    open_items = collections.Counter(
        WorkItem.objects.exclude(status=WorkItem.Status.CLOSED)
        .filter(conversation__messages__pk__in=ids)
        .values_list("conversation_id", flat=True)
        .distinct()
    )
    conversations = set(
        Message.objects.filter(pk__in=ids).values_list("conversation_id", flat=True)
    )
    assert set(open_items) == conversations
    assert all(n == 1 for n in open_items.values())
    return {"routing_events": sum(events.values()), "open_items": len(open_items)}


# --- PostgreSQL stopped -------------------------------------------------------------------

SETUP_SNIPPET = """
import joblib
from accounts.models import Clinic
from accounts.services import create_integration, issue_api_token
from triage.model_registry import register_model_version

clinic = Clinic.objects.create(slug="onc", name="Oncology", time_zone="America/Los_Angeles")
portal = create_integration(clinic=clinic, name="Patient portal")
_, token = issue_api_token(user=portal.account, name="fault test", created_by=None)
with open({path!r}, "rb") as artifact:
    data = artifact.read()
register_model_version(
    model=joblib.load({path!r}), artifact=data, name="fault-test", training_data_hash={hash!r}
)
print("TOKEN=" + token)
"""


class PortalClient:
    """The portal's side: JSON over HTTP with a timeout, as a real integration posts."""

    def __init__(self, base_url: str, token: str):
        self.base_url, self.token = base_url, token

    def post_message(self, payload: dict) -> tuple[int, dict, str]:
        request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1, the test's server
            self.base_url + URL,
            data=json.dumps(payload).encode(),
            method="POST",
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=CLIENT_TIMEOUT_SECONDS) as response:  # noqa: S310
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()


def routed_once_in(database_url: str, external_ids: list[str]) -> tuple[int, list[str]]:
    """(messages routed, external ids not routed exactly once), read straight from the
    private database."""
    with psycopg.connect(database_url, connect_timeout=5) as db:
        rows = db.execute(
            """
            SELECT m.external_id, m.status,
                   (SELECT count(*) FROM routing_workevent e
                     WHERE e.message_id = m.id AND e.kind = ANY(%s)) AS routings,
                   (SELECT count(*) FROM routing_workitem w
                     WHERE w.conversation_id = m.conversation_id AND w.status <> 'closed')
                     AS open_items
              FROM inbox_message m WHERE m.external_id = ANY(%s)
            """,
            [[str(kind) for kind in ROUTING_KINDS], external_ids],
        ).fetchall()
    routed = sum(status == Message.Status.ROUTED for _, status, _, _ in rows)
    seen = {external_id for external_id, *_ in rows}
    wrong = [e for e, status, routings, items in rows if routings != 1 or items != 1]
    return routed, sorted(set(external_ids) - seen) + wrong


@pytest.fixture
def private_postgres():
    cluster = PrivatePostgres()
    cluster.init()
    cluster.start()
    cluster.create_database("portal_triage")
    yield cluster
    cluster.remove()


@pytest.fixture
def app_server(private_postgres, trained_triage_model, tmp_path):
    """`manage.py runserver` with DEBUG off (as in production) on the private cluster,
    migrated, with a clinic, its portal integration and token, and an active model."""
    _, artifact, data_hash = trained_triage_model
    model_path = tmp_path / "model.joblib"
    model_path.write_bytes(artifact)
    port = free_port()
    environment = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "fault-test-only-" + "k" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": private_postgres.url(),
        "DATABASE_UNAVAILABLE_RETRY_AFTER_SECONDS": "7",
    }

    def manage(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            env=environment,
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    manage("migrate", "--noinput")
    output = manage("shell", "-c", SETUP_SNIPPET.format(path=str(model_path), hash=data_hash))
    token = output.split("TOKEN=", 1)[1].strip()
    log_path = tmp_path / "server.log"
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        env=environment,
        cwd=settings.BASE_DIR,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, seconds=30)
        yield PortalClient(f"http://127.0.0.1:{port}", token), log_path
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_postgres_stopped_api_answers_503_json_and_retried_posts_are_routed_once(
    workers, private_postgres, app_server
):
    # given: the app server and a worker (with beat) on the private cluster
    portal, server_log = app_server
    database_url = private_postgres.url()
    workers.start("pg1", beat=True, DATABASE_URL=database_url, **FAST_SWEEP)
    payloads = [message_payload(n) for n in range(90)]
    external_ids = [p["external_id"] for p in payloads]

    def post(payload: dict) -> tuple[int, dict, str, float]:
        started = time.monotonic()
        status, headers, body = portal.post_message(payload)
        return status, headers, body, time.monotonic() - started

    try:
        for payload in payloads[:30]:
            status, _, body, _ = post(payload)
            assert status == 201, body

        # when: PostgreSQL stops (active sessions ended) while the portal keeps posting
        private_postgres.stop()
        refused = [post(payload) for payload in payloads[30:60]]
        private_postgres.start()
        retried = [post(payload) for payload in payloads[30:60]]  # the same external_ids
        after = [post(payload) for payload in payloads[60:]]

        # then: honest answers while it was down, and every message routed exactly once
        for status, headers, body, seconds in refused:
            assert status == 503, body[:300]
            assert headers["Content-Type"] == "application/json", body[:300]
            assert json.loads(body)["code"] == "database_unavailable"
            assert headers["Retry-After"] == "7"
            assert seconds < CLIENT_TIMEOUT_SECONDS
        assert [status for status, *_ in retried] == [201] * 30, [b for *_, b, _ in retried]
        assert [status for status, *_ in after] == [201] * 30
        deadline = time.monotonic() + 60
        while True:
            routed, not_once = routed_once_in(database_url, external_ids)
            if routed == 90 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert routed == 90, f"only {routed} of 90 routed after PostgreSQL came back"
        assert not_once == []
    finally:
        workers.stop_all()

    latencies = [seconds for *_, seconds in refused]
    print(
        f"PostgreSQL down: 30/30 posts answered 503 JSON with Retry-After 7 (median "
        f"{statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms); "
        f"30/30 retries 201; 90/90 routed exactly once. Server log: "
        f"{Path(server_log).stat().st_size} bytes"
    )
