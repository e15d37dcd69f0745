"""Emergent first under a burst: a message with an emergent red flag, received after
hundreds of routine ones are queued, is routed before most of them, by real worker
processes on PostgreSQL and Redis (pipeline/priority.py: Redis message priorities)."""

import time

import pytest
from django.utils import timezone

from inbox.models import Message
from inbox.services import (
    IncomingMessage,
    PatientDetails,
    receive_message,
    receive_messages_batch,
)
from tests.accounts.factories import ClinicFactory, IntegrationFactory

pytestmark = pytest.mark.integration

ROUTINE_MESSAGES = 300
LIMIT_SECONDS = 5


def routine(n: int) -> IncomingMessage:
    return IncomingMessage(
        external_id=f"routine-{n}",
        patient=PatientDetails(mrn=f"R{n}", name=f"Patient {n}"),
        subject="Appointment",
        body=f"Could I move my appointment on the {n % 28 + 1}th to the afternoon?",
    )


def test_an_emergent_message_after_a_burst_is_routed_before_most_routine_ones(
    workers, active_model_version
):
    # given: two triage workers (as deploy/supervisord.conf runs them) and a burst of
    # routine messages received in one batch, each enqueued as routine after the commit
    clinic = ClinicFactory(slug="burst")
    source = IntegrationFactory(clinic=clinic)
    workers.start("t1", queues="triage")
    workers.start("t2", queues="triage")
    burst = receive_messages_batch(
        clinic=clinic, incoming=[routine(n) for n in range(ROUTINE_MESSAGES)], source=source
    )
    assert burst.stored == ROUTINE_MESSAGES
    routine_ids = list(
        Message.objects.filter(clinic=clinic, external_id__startswith="routine-").values_list(
            "pk", flat=True
        )
    )
    waiting = Message.objects.filter(pk__in=routine_ids).exclude(status=Message.Status.ROUTED)
    backlog = waiting.count()
    # The test means something only if most of the burst still waits in the queue.
    assert backlog >= ROUTINE_MESSAGES // 2, f"only {backlog} routine messages wait"

    # when: an emergent message arrives after them
    received_at, received = timezone.now(), time.monotonic()
    emergent, _ = receive_message(
        clinic=clinic,
        incoming=IncomingMessage(
            external_id="emergent-1",
            patient=PatientDetails(mrn="E1", name="Emma Example"),
            subject="Help",
            body="I have crushing chest pain and can't breathe",
        ),
        source=source,
    )

    # then: it is routed within the limit, while most routine messages still wait
    while time.monotonic() - received < LIMIT_SECONDS + 10:
        emergent.refresh_from_db()
        if emergent.status == Message.Status.ROUTED:
            break
        time.sleep(0.05)
    seconds = time.monotonic() - received
    assert emergent.status == Message.Status.ROUTED, f"not routed after {seconds:.1f}s"
    # Routine messages routed between the emergent's receipt and its routing: the ones a
    # worker already held, and those a worker took while the emergent one was stored.
    overtaken_by = Message.objects.filter(
        pk__in=routine_ids,
        status=Message.Status.ROUTED,
        status_changed_at__gt=received_at,
        status_changed_at__lte=emergent.status_changed_at,
    ).count()
    print(
        f"emergent routed {seconds:.2f}s after it was received; {backlog} of "
        f"{ROUTINE_MESSAGES} routine messages were waiting, {overtaken_by} routed before it"
    )
    assert seconds <= LIMIT_SECONDS
    assert overtaken_by < backlog // 2
    assert emergent.classification.acuity == "emergent"
