import time

import pytest
from django.db import connection

from accounts.models import Role
from inbox.models import Message
from routing.models import WorkItem
from tests.accounts.factories import ClinicFactory, IntegrationFactory

pytestmark = pytest.mark.integration

DEADLINE_SECONDS = 10


def wait_for_work_item(message_id: int) -> tuple[WorkItem | None, float]:
    started = time.monotonic()
    while time.monotonic() - started < DEADLINE_SECONDS:
        item = WorkItem.objects.select_related("queue").filter(message_id=message_id).first()
        if item is not None:
            return item, time.monotonic() - started
        time.sleep(0.1)
    return None, time.monotonic() - started


@pytest.mark.parametrize(
    ("subject", "body", "expected_role", "allowed_acuities"),
    [
        (
            "Appointment",
            "Hi, can I reschedule my appointment next Tuesday to Thursday afternoon? Thank you.",
            Role.CLERICAL,
            # Recall-first thresholds may raise a plain request to urgent, never to emergent.
            {"routine", "urgent"},
        ),
        (
            "Question",
            "I started having crushing chest pain and my left arm is numb, "
            "it started 20 minutes ago.",
            Role.NURSE,
            {"emergent"},
        ),
    ],
)
def test_posted_message_is_routed_by_a_real_worker_within_10_seconds(
    celery_worker_process,
    active_model_version,
    client_for,
    subject,
    body,
    expected_role,
    allowed_acuities,
):
    assert connection.vendor == "postgresql"
    clinic = ClinicFactory(slug="primary-care")
    clerk = IntegrationFactory(clinic=clinic).account  # the portal

    response = client_for(clerk).post(
        "/api/v1/messages",
        {
            "external_id": "int-1",
            "clinic": clinic.slug,
            "patient": {"mrn": "P-1"},
            "subject": subject,
            "body": body,
        },
        format="json",
    )
    assert response.status_code == 201, response.content

    item, seconds = wait_for_work_item(response.json()["id"])

    assert item is not None, f"not routed within {DEADLINE_SECONDS}s"
    assert item.queue.clinic_id == clinic.pk
    assert item.queue.role == expected_role
    assert item.acuity in allowed_acuities
    assert Message.objects.get(pk=response.json()["id"]).status == Message.Status.ROUTED
    print(f"routed by the worker in {seconds:.2f}s")
