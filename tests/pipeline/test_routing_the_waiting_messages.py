"""A worker's task routes the messages waiting with its own (issue 23): they are
classified in one model call, and now routed in the same transaction, so under load most
tasks find their message routed already. Follow-ups keep their order; a waiting message
that cannot be routed holds back neither the task's own message nor the ones after it."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inbox.models import Message
from pipeline.tasks import classify_and_route
from routing import services as routing_services
from routing.models import WorkEvent, WorkItem
from tests.inbox.factories import ConversationFactory, MessageFactory
from triage.models import Classification

pytestmark = pytest.mark.django_db(transaction=True)


def _status(message: Message) -> str:
    message.refresh_from_db()
    return message.status


def test_one_task_routes_every_message_waiting_with_its_own(active_model_version):
    waiting = [MessageFactory(body=f"Can I get a copy of my visit summary {n}?") for n in range(5)]

    classify_and_route.run(waiting[2].pk)

    assert [_status(m) for m in waiting] == [Message.Status.ROUTED] * 5
    assert WorkItem.objects.count() == 5
    assert WorkEvent.objects.filter(kind=WorkEvent.Kind.ROUTED).count() == 5


def test_the_other_messages_tasks_then_change_nothing_and_cost_little(active_model_version):
    waiting = [MessageFactory(body="Please resend my appointment letter.") for _ in range(3)]
    classify_and_route.run(waiting[0].pk)
    items_before = list(WorkItem.objects.order_by("pk").values_list("pk", "updated_at"))

    with CaptureQueriesContext(connection) as captured:
        classify_and_route.run(waiting[1].pk)

    assert list(WorkItem.objects.order_by("pk").values_list("pk", "updated_at")) == items_before
    assert WorkEvent.objects.count() == 3
    # One read of its status, outside any transaction.
    assert len(captured.captured_queries) == 1, [q["sql"] for q in captured.captured_queries]


def test_a_conversation_s_messages_waiting_together_are_routed_in_the_order_they_came(
    active_model_version,
):
    conversation = ConversationFactory()
    first = MessageFactory(conversation=conversation, body="Can I reschedule my visit?")
    second = MessageFactory(conversation=conversation, body="Also I need a work note.")
    other = MessageFactory(body="Where do I park?")

    # The later message's task runs first, as a worker may take it first.
    classify_and_route.run(second.pk)

    # The thread's item opened on the first message; the second joined it.
    item = WorkItem.objects.get(conversation=conversation)
    assert item.message_id == first.pk
    events = list(
        WorkEvent.objects.filter(work_item=item).order_by("pk").values_list("kind", "message_id")
    )
    assert events[0] == (WorkEvent.Kind.ROUTED, first.pk)
    assert events[-1][1] == second.pk
    assert _status(other) == Message.Status.ROUTED


def test_a_waiting_message_that_cannot_be_routed_holds_back_neither_its_batch_nor_later_ones(
    active_model_version, monkeypatch, caplog
):
    poison = MessageFactory(body="Question about my bill, nothing else.")
    own = MessageFactory(body="Can I get a copy of my visit summary?")
    later = MessageFactory(body="Please resend my appointment letter.")
    decide = routing_services.decide

    def decide_failing_on_the_poison(*, message, **kwargs):
        if message.pk == poison.pk:
            raise RuntimeError("a rule that cannot be evaluated")
        return decide(message=message, **kwargs)

    monkeypatch.setattr(routing_services, "decide", decide_failing_on_the_poison)

    classify_and_route.run(own.pk)

    assert _status(own) == Message.Status.ROUTED
    assert "routing it alone" in caplog.text
    # Classified with the batch, left for its own task (which fails and is logged; the
    # stuck-message sweep sends it again), and no longer among the waiting ones.
    assert _status(poison) == Message.Status.CLASSIFIED
    classify_and_route.run(later.pk)
    assert _status(later) == Message.Status.ROUTED
    with pytest.raises(RuntimeError):
        classify_and_route.run(poison.pk)
    assert _status(poison) == Message.Status.CLASSIFIED


def test_messages_classified_for_routing_are_never_committed_unrouted(
    active_model_version, monkeypatch, caplog
):
    # Classified in the same transaction that routes them, they are not written as
    # classified; should routing ever skip one without an error, the transaction is
    # rolled back rather than committing it received with a classification.
    own, other = (MessageFactory(body="Can I get a copy of my visit summary?") for _ in "ab")
    monkeypatch.setattr(routing_services, "route_classified_many", lambda **kwargs: None)

    classify_and_route.run(own.pk)

    assert "classified but not routed" in caplog.text
    assert _status(own) == Message.Status.ROUTED  # alone, through route_classified
    assert _status(other) == Message.Status.CLASSIFIED  # written so, for its own task
    assert Classification.objects.filter(message=other).count() == 1
