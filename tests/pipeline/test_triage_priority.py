"""The broker priority a message's classify-and-route task is sent with: emergent red flags
first (0), urgent red flags next (3), everything else routine (6). With Redis, 0 is the
highest priority."""

import pytest

from config.celery import app as celery_app
from inbox.services import IncomingMessage, PatientDetails, receive_message
from pipeline import receivers
from pipeline.priority import message_triage_priorities, message_triage_priority, triage_priority
from tests.accounts.factories import ClinicFactory, IntegrationFactory
from tests.inbox.factories import MessageFactory

EMERGENT, URGENT, ROUTINE = 0, 3, 6


@pytest.mark.parametrize(
    ("subject", "body", "on_chemotherapy", "priority"),
    [
        ("", "I have crushing chest pain and can't breathe", False, EMERGENT),
        ("Help", "Her face is drooping on one side and her speech is slurred", False, EMERGENT),
        ("Chest pain", "It started an hour ago and it is crushing", False, EMERGENT),
        ("", "My temp is 38.4 tonight", True, EMERGENT),  # the chart's chemotherapy flag
        ("", "My temp is 38.4 tonight", False, URGENT),  # same words, not on chemotherapy
        ("", "My incision is red, hot and leaking pus since yesterday", False, URGENT),
        ("", "Me duele el pecho desde hace una hora", False, EMERGENT),
        ("", "No chest pain, just a runny nose", False, ROUTINE),
        ("", "I had chest pain last year, the cardiologist said it was reflux", False, ROUTINE),
        ("", "Can I move my appointment next week to the afternoon?", False, ROUTINE),
        ("Refill", "Please refill my lisinopril, I have a week left", False, ROUTINE),
    ],
)
def test_priority_follows_the_red_flags(subject, body, on_chemotherapy, priority):
    assert triage_priority(subject=subject, body=body, on_chemotherapy=on_chemotherapy) == priority


def test_settings_order_the_priorities_highest_first(settings):
    assert (
        settings.TRIAGE_PRIORITY_EMERGENT
        < settings.TRIAGE_PRIORITY_URGENT
        < settings.TRIAGE_PRIORITY_ROUTINE
    )
    steps = settings.CELERY_BROKER_TRANSPORT_OPTIONS["priority_steps"]
    # Each level its own Redis list: a level between two steps would share a list.
    assert {
        settings.TRIAGE_PRIORITY_EMERGENT,
        settings.TRIAGE_PRIORITY_URGENT,
        settings.TRIAGE_PRIORITY_ROUTINE,
    } <= set(steps)


def test_a_task_sent_without_a_priority_is_routine():
    # The stuck-message sweep calls classify_and_route.delay(): the route supplies 6, not
    # kombu's default 0 (which would put it level with the emergent ones).
    options = celery_app.amqp.router.route({"priority": None}, "pipeline.tasks.classify_and_route")
    assert options["priority"] == ROUTINE
    explicit = celery_app.amqp.router.route({"priority": 0}, "pipeline.tasks.classify_and_route")
    assert explicit["priority"] == EMERGENT


@pytest.mark.django_db
def test_a_stored_message_is_read_with_its_patients_chemotherapy_flag():
    on_chemo = MessageFactory(body="Fever of 38.6 since this morning")
    on_chemo.conversation.patient.on_chemotherapy = True
    on_chemo.conversation.patient.save()
    plain = MessageFactory(body="Fever of 38.6 since this morning")

    assert message_triage_priority(message_id=on_chemo.pk) == EMERGENT
    assert message_triage_priority(message_id=plain.pk) == URGENT
    assert message_triage_priority(message_id=10**9) == ROUTINE
    assert message_triage_priorities(message_ids=[plain.pk, on_chemo.pk, 10**9]) == {
        plain.pk: URGENT,
        on_chemo.pk: EMERGENT,
        10**9: ROUTINE,
    }


@pytest.mark.django_db
def test_received_messages_are_enqueued_with_their_priority(
    monkeypatch, django_capture_on_commit_callbacks
):
    # given: the task's publish recorded instead of run
    sent = []
    monkeypatch.setattr(
        receivers.classify_and_route,
        "apply_async",
        lambda args, priority: sent.append((args[0], priority)),
    )
    clinic = ClinicFactory()
    source = IntegrationFactory(clinic=clinic)

    # when: a routine and an emergent message arrive through the inbox
    with django_capture_on_commit_callbacks(execute=True):
        routine, _ = receive_message(
            clinic=clinic,
            incoming=IncomingMessage(
                external_id="r-1",
                patient=PatientDetails(mrn="A1", name="Ann Example"),
                body="Can I get a copy of my lab results?",
            ),
            source=source,
        )
        emergent, _ = receive_message(
            clinic=clinic,
            incoming=IncomingMessage(
                external_id="e-1",
                patient=PatientDetails(mrn="B2", name="Bo Example"),
                body="I have crushing chest pain and can't breathe",
            ),
            source=source,
        )

    # then
    assert sent == [(routine.pk, ROUTINE), (emergent.pk, EMERGENT)]
