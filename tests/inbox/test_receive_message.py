"""receive_message stores a message with a read then an insert per patient and
conversation, without savepoints; a patient or conversation inserted by a concurrent post
between the two fails the transaction, which is run again and finds it."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inbox import services
from inbox.models import Conversation, Message, Patient
from inbox.services import IncomingMessage, PatientDetails, receive_message
from tests.accounts.factories import ClinicFactory, IntegrationFactory

pytestmark = pytest.mark.django_db(transaction=True)


def incoming(external_id: str, *, thread: str = "") -> IncomingMessage:
    return IncomingMessage(
        external_id=external_id,
        patient=PatientDetails(mrn="MRN-7", name="Ada Moreno"),
        subject="Refill",
        body="Could you refill my inhaler?",
        conversation_external_id=thread,
    )


def test_a_new_patient_and_conversation_are_stored_without_savepoints():
    clinic = ClinicFactory()
    portal = IntegrationFactory(clinic=clinic)

    with CaptureQueriesContext(connection) as captured:
        message, created = receive_message(
            clinic=clinic, incoming=incoming("m-1"), source=portal, announce=False
        )

    assert created
    statements = [q["sql"] for q in captured.captured_queries]
    assert not [s for s in statements if "SAVEPOINT" in s], statements
    # The repeat check, BEGIN, patient read and insert, conversation read and insert, the
    # message, COMMIT.
    assert len(statements) <= 8, statements
    assert message.conversation.patient.mrn == "MRN-7"


def test_a_patient_inserted_concurrently_is_found_when_the_post_runs_again(monkeypatch):
    clinic = ClinicFactory()
    portal = IntegrationFactory(clinic=clinic)
    receive_message(clinic=clinic, incoming=incoming("m-1"), source=portal, announce=False)
    real_filter = Patient.objects.filter
    missed = []

    def misses_once(*args, **kwargs):
        # As if the other post's insert committed just after this post's read.
        if not missed:
            missed.append(True)
            return real_filter(pk=-1)
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(services.Patient.objects, "filter", misses_once)

    _message, created = receive_message(
        clinic=clinic, incoming=incoming("m-2"), source=portal, announce=False
    )

    assert created
    assert missed
    assert Patient.objects.count() == 1
    assert Message.objects.count() == 2
    assert Conversation.objects.count() == 2
