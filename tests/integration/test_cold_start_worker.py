"""A new installation with no active model, on real workers: messages are routed at once to
nurse triage as urgent and unclassified, while the default model trains on the slow
worker; the triage worker is never held up by it."""

import re
import time

import pytest

from accounts.models import Role
from inbox.models import Message
from routing.models import WorkItem
from tests.accounts.factories import ClinicFactory, IntegrationFactory
from triage.models import Classification, ModelTraining, ModelVersion
from triage.tasks import DEFAULT_MODEL_TRAINING

pytestmark = pytest.mark.integration

ROUTED_WITHIN_SECONDS = 10
TRAINING_STARTS_WITHIN_SECONDS = 20
TASK_RECEIVED = re.compile(r"Task triage\.tasks\.train_default_model\[[^\]]+\] received")


def wait_for(find, seconds: float, *, every: float = 0.1):
    """(find()'s first truthy answer or None, the seconds it took)."""
    started = time.monotonic()
    while True:
        found = find()
        elapsed = time.monotonic() - started
        if found or elapsed >= seconds:
            return found, elapsed
        time.sleep(every)


def post_message(client, clinic, external_id: str, body: str) -> int:
    response = client.post(
        "/api/v1/messages",
        {
            "external_id": external_id,
            "clinic": clinic.slug,
            "patient": {"mrn": f"P-{external_id}"},
            "subject": "Question",
            "body": body,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def routed_item(message_id: int) -> WorkItem | None:
    return WorkItem.objects.select_related("queue").filter(message_id=message_id).first()


def assert_routed_unclassified(message_id: int, clinic, label: str) -> float:
    item, seconds = wait_for(lambda: routed_item(message_id), ROUTED_WITHIN_SECONDS)
    assert item is not None, f"{label} not routed within {ROUTED_WITHIN_SECONDS}s"
    print(f"{label} routed (no model) in {seconds:.2f}s")
    assert item.queue.clinic_id == clinic.pk
    assert item.queue.role == Role.NURSE
    assert item.acuity == "urgent"
    classification = Classification.objects.get(message_id=message_id)
    assert classification.unclassified
    assert classification.needs_review
    assert classification.model_version is None
    assert Message.objects.get(pk=message_id).status == Message.Status.ROUTED
    return seconds


def training() -> ModelTraining | None:
    return ModelTraining.objects.filter(name=DEFAULT_MODEL_TRAINING).first()


def test_without_a_model_messages_are_routed_while_the_slow_worker_trains(workers, client_for):
    started = time.monotonic()
    assert not ModelVersion.objects.exists()
    workers.start("triage", queues="triage,default")
    workers.start("slow", queues="slow")
    clinic = ClinicFactory()
    client = client_for(IntegrationFactory(clinic=clinic).account)

    first = post_message(client, clinic, "cold-1", "Can I move my appointment to Friday?")
    first_seconds = assert_routed_unclassified(first, clinic, "first message")

    # One request, taken by the slow worker.
    assert training() is not None
    running, _ = wait_for(
        lambda: (t := training()) and t.status != ModelTraining.Status.REQUESTED,
        TRAINING_STARTS_WITHIN_SECONDS,
    )
    assert running, f"training not started within {TRAINING_STARTS_WITHIN_SECONDS}s"
    assert training().status == ModelTraining.Status.RUNNING

    # While the slow worker trains, the triage worker is not held up.
    second = post_message(client, clinic, "cold-2", "Do I need to fast before my blood test?")
    second_seconds = assert_routed_unclassified(second, clinic, "second message")
    assert training().status == ModelTraining.Status.RUNNING  # routed during the training

    # The rest of the training (about 50 s here) is not waited for: the unit tests run a
    # requested training to the end and classify with its model (tests/triage/
    # test_cold_start.py). A hard kill stops it at once; the broker is flushed after.
    workers.kill_hard("slow")

    # The training ran on the slow worker, once; never on the triage worker.
    assert len(TASK_RECEIVED.findall(workers.logs["slow"].read_text())) == 1
    assert not TASK_RECEIVED.search(workers.logs["triage"].read_text())
    print(
        f"routing without a model: {first_seconds:.2f}s, {second_seconds:.2f}s; "
        f"whole test body {time.monotonic() - started:.1f}s"
    )
