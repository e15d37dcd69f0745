"""The stuck-message sweep enqueues each stuck message at most once per window."""

import datetime
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from inbox.models import Message
from inbox.services import take_stuck_messages
from pipeline import tasks as pipeline_tasks
from tests.inbox.factories import MessageFactory

pytestmark = pytest.mark.django_db

OLDER_THAN = datetime.timedelta(minutes=2)
WINDOW = datetime.timedelta(minutes=5)


def stuck_message(*, minutes: int = 3) -> Message:
    message = MessageFactory()
    Message.objects.filter(pk=message.pk).update(
        status_changed_at=timezone.now() - datetime.timedelta(minutes=minutes)
    )
    return message


def take(now: datetime.datetime, limit: int = 500) -> list[int]:
    return take_stuck_messages(now=now, older_than=OLDER_THAN, window=WINDOW, limit=limit)


def test_a_stuck_message_is_taken_once_per_window():
    message = stuck_message()
    now = timezone.now()

    assert take(now) == [message.pk]
    assert take(now + datetime.timedelta(seconds=30)) == []  # the next sweep: nothing
    assert take(now + WINDOW - datetime.timedelta(seconds=1)) == []
    assert take(now + WINDOW) == [message.pk]  # the window has passed: once again


def test_fresh_and_routed_messages_are_not_taken():
    stuck_message(minutes=1)
    routed = stuck_message()
    Message.objects.filter(pk=routed.pk).update(status=Message.Status.ROUTED)

    assert take(timezone.now()) == []


def test_the_sweep_takes_at_most_a_batch_oldest_first():
    oldest, middle, newest = stuck_message(minutes=9), stuck_message(minutes=6), stuck_message()
    now = timezone.now()

    assert take(now, limit=2) == [oldest.pk, middle.pk]
    assert take(now, limit=2) == [newest.pk]


def test_a_sweep_within_the_window_enqueues_nothing(settings, monkeypatch):
    settings.STUCK_MESSAGE_AFTER_SECONDS = 120
    settings.STUCK_REQUEUE_WINDOW_SECONDS = 300
    message = stuck_message()
    enqueued = []
    # Outside the code under test: the broker. What counts is what is handed to it.
    monkeypatch.setattr(
        pipeline_tasks.classify_and_route,
        "apply_async",
        lambda args, priority: enqueued.append((args[0], priority)),
    )
    now = timezone.now()

    assert pipeline_tasks.requeue_stuck(now=now) == 1
    assert pipeline_tasks.requeue_stuck(now=now + datetime.timedelta(seconds=30)) == 0
    assert pipeline_tasks.requeue_stuck(now=now + datetime.timedelta(seconds=300)) == 1
    routine = settings.TRIAGE_PRIORITY_ROUTINE
    assert enqueued == [(message.pk, routine), (message.pk, routine)]
    message.refresh_from_db()
    # The status time is left alone: it is how long the message has waited.
    assert message.status_changed_at < now - OLDER_THAN


@pytest.mark.django_db(transaction=True)
def test_a_message_locked_elsewhere_is_skipped_not_waited_for():
    locked, free = stuck_message(), stuck_message()
    holding, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        try:
            with transaction.atomic():
                Message.objects.select_for_update().get(pk=locked.pk)
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert holding.wait(10)
        assert take(timezone.now()) == [free.pk]
    finally:
        release.set()
        holder.join()
    assert take(timezone.now()) == [locked.pk]
