"""The bulk intake's routing: one classify_and_route_many task per chunk of a batch, each
message as classify_and_route does it, one failure not stopping the others."""

import re

import pytest
from django.db import OperationalError

from config.celery import app as celery_app
from inbox.models import Message
from inbox.signals import messages_received
from pipeline import receivers
from pipeline import tasks as pipeline_tasks
from routing import services as routing_services
from routing.models import WorkItem
from tests.inbox.factories import MessageFactory

pytestmark = pytest.mark.django_db


def test_the_batched_task_routes_every_message(active_model_version):
    messages = MessageFactory.create_batch(5)

    pipeline_tasks.classify_and_route_many.delay([m.pk for m in messages])

    assert set(Message.objects.values_list("status", flat=True)) == {Message.Status.ROUTED}
    assert WorkItem.objects.count() == 5


def test_one_failing_message_is_logged_and_the_others_are_routed(
    active_model_version, monkeypatch, caplog
):
    first, broken, last = MessageFactory.create_batch(3)
    route = routing_services.route_classified

    def fails_for_one(*, message, classification):
        if message.pk == broken.pk:
            raise RuntimeError("a bug in one message's path")
        return route(message=message, classification=classification)

    def chunk_fails(*, classifications):
        for classification in classifications:
            fails_for_one(message=classification.message, classification=classification)

    monkeypatch.setattr(routing_services, "route_classified", fails_for_one)
    monkeypatch.setattr(routing_services, "route_classified_many", chunk_fails)

    pipeline_tasks.classify_and_route_many.delay([first.pk, broken.pk, last.pk])

    statuses = dict(Message.objects.values_list("pk", "status"))
    assert (statuses[first.pk], statuses[last.pk]) == (Message.Status.ROUTED,) * 2
    # Received, or classified with the first one's batch: for the stuck-message sweep.
    assert statuses[broken.pk] in Message.AWAITING_ROUTING
    assert "a chunk of 3 messages failed; routing them one by one" in caplog.text
    assert f"classify_and_route of message {broken.pk} failed in a batch" in caplog.text


def test_a_chunk_is_classified_in_one_model_call_and_routed_in_one_transaction(
    active_model_version, django_assert_max_num_queries
):
    from pipeline.tasks import classify_and_route

    warm = MessageFactory()
    classify_and_route.run(warm.pk)
    classify_and_route.run(MessageFactory(conversation__clinic=warm.clinic).pk)
    chunk = MessageFactory.create_batch(20, conversation__clinic=warm.clinic)

    # Per message: the conversation lock, the latest item, the item, its event and the
    # status; for the chunk: its lock, the classifications and their status.
    with django_assert_max_num_queries(20 * 5 + 3 + 2):  # + the test's savepoint
        pipeline_tasks.classify_and_route_many.run([m.pk for m in chunk])

    assert set(
        Message.objects.filter(pk__in=[m.pk for m in chunk]).values_list("status", flat=True)
    ) == {Message.Status.ROUTED}


def test_a_database_error_fails_the_chunk_so_that_it_is_retried(monkeypatch):
    message = MessageFactory()

    def database_gone(*args, **kwargs) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(pipeline_tasks.classify_and_route, "run", database_gone)
    monkeypatch.setattr(
        pipeline_tasks.triage_services, "classify_many_in_transaction", database_gone
    )

    # Called directly, Celery's retry re-raises; in a worker it is retried with backoff.
    with pytest.raises(OperationalError):
        pipeline_tasks.classify_and_route_many.run([message.pk])


def test_it_goes_to_the_triage_queue_as_classify_and_route_does():
    router = celery_app.amqp.router

    def queue_of(name: str) -> str:
        return router.route({}, name, args=(), kwargs={})["queue"].name

    assert queue_of("pipeline.tasks.classify_and_route_many") == "triage"
    assert queue_of("pipeline.tasks.classify_and_route_many") == queue_of(
        "pipeline.tasks.classify_and_route"
    )


def test_a_batch_is_enqueued_in_chunks_by_priority_emergent_first(monkeypatch):
    routine = MessageFactory.create_batch(120, body="Can I move my appointment?")
    emergent = MessageFactory(body="Crushing chest pain since this morning, I feel faint.")
    sent = []
    monkeypatch.setattr(
        receivers.classify_and_route_many,
        "apply_async",
        lambda args, priority: sent.append((args[0], priority)),
    )
    ids = [m.pk for m in routine[:60]] + [emergent.pk] + [m.pk for m in routine[60:]]

    messages_received.send(sender=Message, message_ids=ids)

    # The highest priority, first and in a chunk of its own: ahead of every routine chunk.
    assert sent[0] == ([emergent.pk], 0)
    routine_chunks = sent[1:]
    assert [len(chunk) for chunk, _ in routine_chunks] == [50, 50, 20]
    assert {priority for _, priority in routine_chunks} == {6}
    assert [pk for chunk, _ in routine_chunks for pk in chunk] == [m.pk for m in routine]


def test_a_chunk_routes_every_message_as_one_by_one_would(active_model_version):
    """The same messages, in two clinics configured alike: one clinic's through the chunk
    (written together where nothing else follows), the other's one by one."""
    from pipeline.tasks import classify_and_route
    from routing.models import Queue, WorkEvent
    from tests.accounts.factories import ClinicFactory
    from tests.inbox.factories import ConversationFactory, PatientFactory
    from tests.routing.factories import QueueFactory, RoutingRuleFactory

    texts = [
        ("Appointment", "Can I move my appointment next week to the afternoon?"),
        ("Chest", "I have crushing chest pain and cannot breathe"),
        ("Port", "Question about my port appointment, nothing is wrong"),
        ("Refill", "Could you refill my lisinopril, two pills left"),
        ("Follow-up", "Also, my ankle is swollen since yesterday"),
    ]

    def clinic_with_messages():
        clinic = ClinicFactory()
        navigators = QueueFactory(clinic=clinic, role="nurse", name="Port navigators")
        RoutingRuleFactory(
            clinic=clinic, conditions={"keyword": ["port"]}, action={"queue": navigators.pk}
        )
        shared = ConversationFactory(clinic=clinic, patient=PatientFactory(clinic=clinic))
        messages = []
        for n, (subject, body) in enumerate(texts):
            conversation = (
                shared
                if n in (3, 4)
                else ConversationFactory(clinic=clinic, patient=PatientFactory(clinic=clinic))
            )
            messages.append(MessageFactory(conversation=conversation, subject=subject, body=body))
        return clinic, messages

    def outcome(messages):
        rows = []
        for message in messages:
            message.refresh_from_db()
            item = WorkItem.objects.get(conversation=message.conversation)
            kinds = sorted(WorkEvent.objects.filter(message=message).values_list("kind", flat=True))
            rows.append(
                (
                    message.status,
                    Queue.objects.get(pk=item.queue_id).name,
                    item.acuity,
                    item.service_level,
                    re.sub(r"\d+", "N", item.routing_reason),  # ids differ
                    kinds,
                )
            )
        return rows

    _, together = clinic_with_messages()
    _, alone = clinic_with_messages()

    pipeline_tasks.classify_and_route_many.run([m.pk for m in together])
    for message in alone:
        classify_and_route.run(message.pk)

    assert outcome(together) == outcome(alone)
    assert {row[0] for row in outcome(together)} == {Message.Status.ROUTED}
