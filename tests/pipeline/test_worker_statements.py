"""What one routed message costs the worker in database statements (issue 23): at most
ten, the status read and BEGIN and COMMIT included, for a routine message in a new
conversation (nine) and for a follow-up in an open one (ten), routed alone, with the
clinic's routing configuration and the active model already read by this worker process
(it reads them once per configuration version, not once per message)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inbox.models import Message
from pipeline.tasks import classify_and_route
from tests.inbox.factories import ConversationFactory, MessageFactory

# Transactions as the worker has them (no test savepoints around each atomic block).
pytestmark = pytest.mark.django_db(transaction=True)

MAX_STATEMENTS_PER_ROUTED_MESSAGE = 10


def _statements_to_route(message: Message) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        classify_and_route.run(message.pk)
    message.refresh_from_db()
    assert message.status == Message.Status.ROUTED
    return [query["sql"] for query in captured.captured_queries]


def test_a_message_in_a_new_conversation_is_routed_in_at_most_ten_statements(
    active_model_version,
):
    warm = MessageFactory(body="Can I get a copy of my visit summary?")
    # The first message makes the clinic's default queues (a configuration change); the
    # second is routed on the configuration this process then reads once.
    classify_and_route.run(warm.pk)
    classify_and_route.run(MessageFactory(conversation=ConversationFactory(clinic=warm.clinic)).pk)
    message = MessageFactory(
        conversation=ConversationFactory(clinic=warm.clinic),
        body="Please send me a copy of my visit summary.",
    )

    statements = _statements_to_route(message)

    assert len(statements) <= MAX_STATEMENTS_PER_ROUTED_MESSAGE, "\n".join(statements)


def test_a_follow_up_in_an_open_conversation_is_routed_in_at_most_ten_statements(
    active_model_version,
):
    first = MessageFactory(body="Can I get a copy of my visit summary?")
    classify_and_route.run(first.pk)
    classify_and_route.run(MessageFactory(conversation=ConversationFactory(clinic=first.clinic)).pk)
    follow_up = MessageFactory(conversation=first.conversation, body="Also my lab results.")

    statements = _statements_to_route(follow_up)

    assert len(statements) <= MAX_STATEMENTS_PER_ROUTED_MESSAGE, "\n".join(statements)
