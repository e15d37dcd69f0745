"""schemathesis against the app's own schema (GET /api/schema/, as an integrator fetches
it): requests generated from every operation, valid and invalid, sent through the whole
WSGI stack (middleware included), each answer checked: no 5xx, a status code the
operation documents, a body that matches the schema for that status.

Each request is sent with the token of whoever does that job (the portal's integration
for its endpoints, a physician for work items, the billing clerk for e-visits, the
administrator for configuration and figures), every token with every scope, so requests
get past authentication to the views. Path ids are steered to this clinic's rows half of
the time, so answers with bodies are checked, not only 404s. Each request runs in a
savepoint rolled back afterwards: every request finds the same clinic.

Bounded: SCHEMATHESIS_MAX_EXAMPLES per operation and mode (default 40), and about
SCHEMATHESIS_BUDGET_SECONDS in all (default 150): past the budget, the remaining
operations are still tried, with SCHEMATHESIS_FLOOR_EXAMPLES each. Derandomized, so a
failure here fails again on the next run."""

import datetime
import os
import re
import time
from collections import Counter
from decimal import Decimal

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections, transaction
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import Role
from accounts.scopes import ALL_SCOPES
from accounts.services import issue_api_token
from billing.models import EVisit
from config.wsgi import application
from inbox import services as inbox_services
from routing.models import WorkItem
from routing.services import ensure_default_queues
from tests.accounts.factories import ClinicFactory, IntegrationFactory, StaffFactory
from tests.inbox.factories import ConversationFactory, MessageFactory
from triage.ml.labels import ACUITY_RANK, Acuity

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "40"))
FLOOR_EXAMPLES = int(os.environ.get("SCHEMATHESIS_FLOOR_EXAMPLES", "5"))
BUDGET_SECONDS = float(os.environ.get("SCHEMATHESIS_BUDGET_SECONDS", "150"))
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]

# Who does each job: (method or None for any, path pattern, principal); the first match.
PRINCIPALS = [
    ("POST", r"^/api/v1/messages(:batch)?$", "integration"),
    (None, r"^/api/v1/outgoing-messages", "integration"),
    (None, r"^/fhir/", "integration"),
    (None, r"^/api/v1/billing/", "billing"),
    (None, r"^/api/v1/(operations|queues|routing-rules|webhook)", "admin"),
    (None, r"", "physician"),
]


def principal_for(method: str, path: str) -> str:
    for wanted, pattern, principal in PRINCIPALS:
        if (wanted is None or wanted == method.upper()) and re.search(pattern, path):
            return principal
    raise AssertionError("PRINCIPALS ends with a catch-all")


@pytest.fixture
def clinic_on_file(settings):
    # The run is thousands of requests a minute from one token each: not what the
    # throttle is for (tests/accounts/test_token_throttling.py tests it).
    settings.API_RATE_PER_TOKEN = "1000000/min"
    clinic = ClinicFactory()
    queues = ensure_default_queues(clinic=clinic)
    people = {
        "physician": StaffFactory(clinic=clinic, role=Role.PHYSICIAN),
        "billing": StaffFactory(clinic=clinic, role=Role.BILLING),
        "admin": StaffFactory(clinic=clinic, role=Role.ADMIN),
        "integration": IntegrationFactory(clinic=clinic).account,
    }
    tokens = {
        who: issue_api_token(user=user, created_by=None, scopes=ALL_SCOPES)[1]
        for who, user in people.items()
    }
    items = []
    for level in ("clerical", "nurse", "physician"):
        for acuity in ("urgent", "routine"):
            message = MessageFactory(
                conversation__patient__clinic=clinic, subject=f"{level} {acuity}"
            )
            items.append(
                WorkItem.objects.create(
                    clinic=clinic,
                    conversation=message.conversation,
                    message=message,
                    queue=queues[level],
                    acuity=acuity,
                    acuity_rank=ACUITY_RANK[Acuity(acuity)],
                    service_level=level,
                    due_at=timezone.now() + datetime.timedelta(hours=1),
                )
            )
    replies = [
        inbox_services.send_reply(
            in_reply_to=item.message, body="Take it with food.", author=people["physician"]
        )
        for item in items[:3]
    ]
    evisits = [
        EVisit.objects.create(
            clinic=clinic,
            conversation=ConversationFactory(patient=items[0].conversation.patient),
            status=status,
            code="99422",
            minutes=12,
            amount=Decimal("31.00"),
            window_start=timezone.now() - datetime.timedelta(days=2),
        )
        for status in (EVisit.Status.READY, EVisit.Status.APPROVED)
    ]
    known_ids = {
        "item_id": [item.pk for item in items],
        "message_id": [item.message_id for item in items],
        "reply_id": [reply.pk for reply in replies],
        "evisit_id": [evisit.pk for evisit in evisits],
    }
    return tokens, known_ids


@pytest.fixture
def wsgi_like_a_test_client():
    # The requests run inside the test's transaction, on its connection; Django's test
    # client detaches these receivers for the same reason (they would close it).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield application
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def test_every_operation_answers_as_the_schema_says(clinic_on_file, wsgi_like_a_test_client):
    tokens, known_ids = clinic_on_file
    schema = schemathesis.openapi.from_wsgi(
        "/api/schema/?format=json",
        wsgi_like_a_test_client,
        headers={"Authorization": f"Bearer {tokens['integration']}"},
    )
    deadline = time.monotonic() + BUDGET_SECONDS
    findings: list[str] = []
    statuses: Counter = Counter()
    operations = 0

    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        examples = MAX_EXAMPLES if time.monotonic() < deadline else FLOOR_EXAMPLES
        token = tokens[principal_for(operation.method, operation.path)]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, mode, examples, token, known_ids, findings, statuses)

    requests = sum(statuses.values())
    print(
        f"\nschemathesis: {operations} operations, {requests} requests "
        f"({dict(sorted(statuses.items()))}), {len(findings)} findings, "
        f"{BUDGET_SECONDS - (deadline - time.monotonic()):.0f} s"
    )
    assert operations >= 15, "the schema lost operations"
    assert not findings, "\n\n".join(sorted(set(findings))[:40])


def _fuzz(operation, mode, examples, token, known_ids, findings, statuses) -> None:
    steering = st.fixed_dictionaries(
        {name: st.sampled_from([None, *ids]) for name, ids in known_ids.items()}
    )

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), known=steering)
    def run(case, known):
        for name, value in known.items():
            if value is not None and name in (case.path_parameters or {}):
                case.path_parameters[name] = value
        headers = {"Authorization": f"Bearer {token}"}
        with transaction.atomic():
            response = case.call(headers=headers)
            statuses[response.status_code] += 1
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except (Failure, FailureGroup) as error:
                failures = error.exceptions if isinstance(error, FailureGroup) else [error]
                where = f"{operation.method.upper()} {operation.path} ({mode.value}, "
                for failure in failures:
                    at = "/".join(map(str, getattr(failure, "instance_path", ()) or ()))
                    findings.append(
                        f"{where}{response.status_code}): {failure.title}"
                        f"{f' at {at}' if at else ''}: {failure.message.splitlines()[0][:300]}"
                    )
            transaction.set_rollback(True)

    run()
