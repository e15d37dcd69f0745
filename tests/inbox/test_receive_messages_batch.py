"""inbox.services.receive_messages_batch: each message's outcome and id, by position, on the
bulk path and on the one-by-one path it falls back to when a concurrent writer wins."""

import pytest
from django.db import IntegrityError

from inbox import services as inbox_services
from inbox.models import Message
from inbox.services import (
    BatchItem,
    BatchItemOutcome,
    IncomingMessage,
    PatientDetails,
    receive_messages_batch,
)
from tests.accounts.factories import IntegrationFactory
from tests.inbox.factories import MessageFactory

pytestmark = pytest.mark.django_db

CREATED, PRESENT, REJECTED = (
    BatchItemOutcome.CREATED,
    BatchItemOutcome.ALREADY_PRESENT,
    BatchItemOutcome.REJECTED,
)
MISMATCH = "This conversation belongs to another patient of the clinic."


def incoming(external_id: str, mrn: str, thread: str = "") -> IncomingMessage:
    return IncomingMessage(
        external_id=external_id,
        patient=PatientDetails(mrn=mrn),
        body="Can I take ibuprofen with my new pills?",
        conversation_external_id=thread,
    )


@pytest.fixture
def given():
    stored = MessageFactory(external_id="old-1", conversation__external_id="thread-x")
    source = IntegrationFactory(clinic=stored.clinic)
    batch = [
        incoming("new-1", "A-1"),
        incoming("old-1", "A-1"),  # stored before
        incoming("new-2", "B-2", thread="thread-x"),  # another patient's thread
        incoming("new-1", "A-1"),  # earlier in this batch
    ]
    return stored, source, batch


def outcomes(outcome) -> list[tuple[BatchItemOutcome, str | None]]:
    """(outcome, external_id of the message answered) by position."""
    external = dict(Message.objects.values_list("pk", "external_id"))
    return [(item.outcome, external.get(item.message_id)) for item in outcome.items]


EXPECTED = [(CREATED, "new-1"), (PRESENT, "old-1"), (REJECTED, None), (PRESENT, "new-1")]


def test_each_message_has_its_outcome_and_id_by_position(given):
    stored, source, batch = given

    outcome = receive_messages_batch(clinic=stored.clinic, incoming=batch, source=source)

    assert outcomes(outcome) == EXPECTED
    assert outcome.items[2] == BatchItem(REJECTED, None, MISMATCH)
    assert (outcome.stored, outcome.already_present, outcome.rejected) == (1, 2, [(2, MISMATCH)])


def test_the_one_by_one_path_answers_the_same(given, monkeypatch):
    stored, source, batch = given

    def lost_a_race(**kwargs):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(inbox_services, "_store_batch", lost_a_race)

    outcome = receive_messages_batch(clinic=stored.clinic, incoming=batch, source=source)

    assert outcomes(outcome) == EXPECTED
    assert outcome.items[2] == BatchItem(REJECTED, None, MISMATCH)


def test_announced_together_it_is_one_callback_else_one_per_message(
    given, django_capture_on_commit_callbacks
):
    stored, source, _ = given
    one = [incoming(f"t-{n}", "A-1") for n in range(3)]
    each = [incoming(f"e-{n}", "A-1") for n in range(3)]

    with django_capture_on_commit_callbacks() as together:
        receive_messages_batch(
            clinic=stored.clinic, incoming=one, source=source, announce_together=True
        )
    with django_capture_on_commit_callbacks() as separately:
        receive_messages_batch(clinic=stored.clinic, incoming=each, source=source)

    assert [c.__qualname__.rpartition(".")[2] for c in together] == ["announce_messages_received"]
    assert len(separately) == 3  # the import's way: message_received for each
