"""A real worker process that has routed a clinic's messages (and so holds the clinic's
configuration) routes the next message by a rule saved meanwhile in another process."""

import time

import pytest

from inbox.models import Message
from pipeline.tasks import classify_and_route
from routing.models import WorkItem
from tests.accounts.factories import ClinicFactory
from tests.inbox.factories import ConversationFactory, MessageFactory, PatientFactory
from tests.routing.factories import QueueFactory, RoutingRuleFactory

pytestmark = pytest.mark.integration

DEADLINE_SECONDS = 20


def routed_by_the_worker(clinic, body: str) -> WorkItem:
    conversation = ConversationFactory(clinic=clinic, patient=PatientFactory(clinic=clinic))
    message = MessageFactory(conversation=conversation, body=body)
    classify_and_route.delay(message.pk)
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        item = WorkItem.objects.select_related("queue").filter(message=message).first()
        if item is not None:
            return item
        time.sleep(0.1)
    message.refresh_from_db()
    pytest.fail(f"message not routed within {DEADLINE_SECONDS}s (status {message.status})")


def test_a_rule_saved_while_the_worker_runs_routes_its_next_message(
    celery_worker_process, active_model_version
):
    clinic = ClinicFactory()
    navigators = QueueFactory(clinic=clinic, role="nurse", name="Port navigators")
    body = "Question about my port appointment next week, nothing is wrong."
    assert routed_by_the_worker(clinic, body).queue.is_role_default

    rule = RoutingRuleFactory(
        clinic=clinic, conditions={"keyword": ["port"]}, action={"queue": navigators.pk}
    )
    assert routed_by_the_worker(clinic, body).queue == navigators

    rule.delete()
    assert routed_by_the_worker(clinic, body).queue.is_role_default
    assert not Message.objects.exclude(status=Message.Status.ROUTED).exists()
