"""A rule replay is computed by a real worker that consumes only the slow queue, so a
long replay never waits in front of (or delays) an emergent message's routing."""

import dataclasses
import time

import pytest

from accounts.models import Role
from routing import rule_trial
from routing.models import RuleReplay
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.routing.factories import QueueFactory, RoutingRuleFactory, routed_item

pytestmark = pytest.mark.integration

DEADLINE_SECONDS = 20


def test_a_replay_runs_on_the_slow_queue_worker(workers):
    clinic = ClinicFactory()
    pool = QueueFactory(clinic=clinic, role="nurse", name="Line care")
    rule = RoutingRuleFactory(
        clinic=clinic, conditions={"keyword": ["port"]}, action={"queue": pool.pk}
    )
    for body in ("my port is red", "picc line question", "refill please", "picc dressing"):
        routed_item(clinic, body=body)
    widened = dataclasses.replace(rule.as_rule(), conditions={"keyword": ["port", "picc"]})
    workers.start("slow-only", queues="slow")

    requested = rule_trial.request_rule_replay(
        actor=StaffFactory(clinic=clinic, role=Role.ADMIN), clinic=clinic, edited=widened, days=30
    )

    started = time.monotonic()
    while time.monotonic() - started < DEADLINE_SECONDS:
        requested.refresh_from_db()
        if requested.status == RuleReplay.Status.DONE:
            break
        time.sleep(0.2)
    assert requested.status == RuleReplay.Status.DONE, workers.logs["slow-only"].read_text()
    assert (requested.report["messages"], requested.report["moved"]) == (4, 2)
    assert requested.report["queue_moves"][0] == {
        "from": "Nurse triage",
        "to": "Line care",
        "messages": 2,
    }
