import pytest

from inbox.models import Message
from routing.models import WorkEvent, WorkItem
from routing.services import route
from tests.inbox.factories import ConversationFactory, MessageFactory
from triage import classification as classification_module
from triage import services as triage_services
from triage.models import Classification

pytestmark = pytest.mark.django_db


def test_running_classify_and_route_twice_creates_nothing_new(active_model_version):
    message = MessageFactory()

    for _ in range(2):
        triage_services.classify(message_id=message.pk)
        route(message_id=message.pk)

    assert Classification.objects.filter(message=message).count() == 1
    assert WorkItem.objects.filter(conversation=message.conversation).count() == 1
    assert WorkEvent.objects.filter(kind=WorkEvent.Kind.ROUTED).count() == 1
    message.refresh_from_db()
    assert message.status == Message.Status.ROUTED


def test_classifier_failure_routes_to_nurse_triage_as_urgent(monkeypatch, active_model_version):
    def broken_model(items, **kwargs):
        raise RuntimeError("model file unreadable")

    monkeypatch.setattr(classification_module, "predict_triage", broken_model)
    message = MessageFactory(body="whatever")

    classification = triage_services.classify(message_id=message.pk)
    item = route(message_id=message.pk)

    assert classification.unclassified
    assert (classification.acuity, classification.service_level) == ("urgent", "nurse")
    assert item.queue.role == "nurse"
    assert item.acuity == "urgent"


def test_a_second_message_in_an_open_thread_joins_its_item_and_raises_acuity(monkeypatch):
    conversation = ConversationFactory()
    first = MessageFactory(conversation=conversation)
    second = MessageFactory(conversation=conversation)
    from triage.classification import TriageResult
    from triage.ml.classifier import TriagePrediction

    answers = iter([("routine", "clerical"), ("emergent", "nurse")])

    def scripted_model(items, **kwargs):
        # One answer per message, oldest first: the worker classifies waiting messages
        # of a batch in one call.
        return [
            TriageResult(
                TriagePrediction(acuity, level, False, 0.9, 0.9, 0.9, routing_service_level=level),
                [],
                None,
            )
            for acuity, level in (next(answers) for _ in items)
        ]

    monkeypatch.setattr(classification_module, "predict_triage", scripted_model)
    for message in (first, second):
        triage_services.classify(message_id=message.pk)
        route(message_id=message.pk)

    items = WorkItem.objects.filter(conversation=conversation)
    assert items.count() == 1
    assert items.get().acuity == "emergent"
    assert items.get().acuity_rank == 0
    assert items.get().queue.role == "nurse"


def test_route_before_classification_does_nothing():
    message = MessageFactory()
    assert route(message_id=message.pk) is None
    assert not WorkItem.objects.exists()
