"""A real worker keeps its PostgreSQL connection from one task to the next (Celery's
Django fixup would close it around every task), and replaces one the server dropped
between tasks without failing the task that comes next."""

import collections
import re
import time
import uuid

import pytest
from django.db import connection

from inbox.models import Message
from tests.accounts.factories import ClinicFactory, IntegrationFactory

pytestmark = pytest.mark.integration

DEADLINE_SECONDS = 30
BATCH = 20
RECEIVED = re.compile(r"Task \S+\[([0-9a-f-]+)\] received")


def post(client, clinic, n: int) -> int:
    response = client.post(
        "/api/v1/messages",
        {
            "external_id": f"keep-{n}",
            "clinic": clinic.slug,
            "patient": {"mrn": f"P-{n}"},
            "subject": "Appointment",
            "body": "Can I move my appointment next Tuesday to Thursday afternoon?",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def wait_until_routed(message_ids: list[int]) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        routed = Message.objects.filter(pk__in=message_ids, status=Message.Status.ROUTED).count()
        if routed == len(message_ids):
            return
        time.sleep(0.1)
    pytest.fail(f"{routed} of {len(message_ids)} routed within {DEADLINE_SECONDS}s")


def worker_backends(application_name: str) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s ORDER BY pid",
            [application_name],
        )
        return [pid for (pid,) in cursor.fetchall()]


def test_worker_keeps_one_connection_and_replaces_a_dropped_one(
    workers, active_model_version, client_for
):
    name = f"keep-{uuid.uuid4().hex[:8]}"
    workers.start("keeper", concurrency=1, DATABASE_APPLICATION_NAME=name)
    clinic = ClinicFactory(slug="primary-care")
    client = client_for(IntegrationFactory(clinic=clinic).account)

    wait_until_routed([post(client, clinic, 0)])
    [first] = worker_backends(name)

    wait_until_routed([post(client, clinic, n) for n in range(1, BATCH + 1)])
    # Each message is several tasks (classify, route, follow-ups): with the fixup's
    # close around every task each would have had a new backend.
    assert worker_backends(name) == [first]

    # Dropped between tasks, as the server would: a task still queued for a message
    # already routed in another's batch must not be running on it.
    workers.wait_idle("keeper")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [first])
    wait_until_routed([post(client, clinic, BATCH + 1)])

    [second] = worker_backends(name)
    assert second != first
    # The health check replaced it before the task's first query: no task failed on the
    # dead connection and came back as a retry (the same task id received again).
    received = collections.Counter(RECEIVED.findall(workers.logs["keeper"].read_text()))
    assert len(received) > BATCH
    assert max(received.values()) == 1, received.most_common(3)
