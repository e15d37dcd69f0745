"""A triage worker classifies the messages waiting beside its own in one model call, so
under load the model runs in batches; rows another worker holds are left to it."""

import threading

import pytest
from django.db import connection, transaction

from inbox.models import Message
from tests.inbox.factories import MessageFactory
from triage import classification as classification_module
from triage import services as triage_services
from triage.models import Classification


@pytest.fixture
def model_calls(monkeypatch):
    """The real model, with the size of each call it gets recorded."""
    calls = []
    real = classification_module.predict_triage

    def recording(items, **kwargs):
        calls.append(len(items))
        return real(items, **kwargs)

    monkeypatch.setattr(classification_module, "predict_triage", recording)
    return calls


@pytest.mark.django_db
def test_the_waiting_messages_are_classified_with_the_worker_s_own_in_one_call(
    active_model_version, model_calls
):
    waiting = [MessageFactory(body=f"question {i} about my appointment") for i in range(3)]
    own = MessageFactory(body="crushing chest pain since an hour")

    classification = triage_services.classify(message_id=own.pk)

    assert classification.message_id == own.pk
    assert model_calls == [4]
    statuses = set(Message.objects.filter(pk__in=[m.pk for m in waiting]).values_list("status"))
    assert statuses == {(Message.Status.CLASSIFIED,)}
    # Their own tasks then find them classified and classify nothing again.
    assert triage_services.classify(message_id=waiting[0].pk).message_id == waiting[0].pk
    assert model_calls == [4]
    assert Classification.objects.count() == 4


@pytest.mark.django_db
def test_the_batch_size_is_a_setting(active_model_version, model_calls, settings):
    settings.TRIAGE_BATCH_SIZE = 2
    messages = [MessageFactory() for _ in range(4)]

    triage_services.classify(message_id=messages[3].pk)

    assert model_calls == [2]
    classified = set(Classification.objects.values_list("message_id", flat=True))
    assert classified == {messages[3].pk, messages[0].pk}  # its own, then the oldest


@pytest.mark.django_db(transaction=True)
def test_a_message_another_worker_holds_is_skipped_not_waited_for(
    active_model_version, model_calls
):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    held, own = MessageFactory(), MessageFactory()
    locked, release = threading.Event(), threading.Event()

    def other_worker():
        with transaction.atomic():
            Message.objects.select_for_update().get(pk=held.pk)
            locked.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert locked.wait(10)
        classification = triage_services.classify(message_id=own.pk)
    finally:
        release.set()
        thread.join()

    assert classification.message_id == own.pk
    assert model_calls == [1]
    assert Message.objects.get(pk=held.pk).status == Message.Status.RECEIVED
