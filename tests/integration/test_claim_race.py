"""Two OS processes claim from one queue at the same time on PostgreSQL: no item is
ever held by two people."""

import json
import os
import subprocess
import sys
import time

import pytest
from django.conf import settings

from accounts.models import Role
from routing import services
from routing.models import WorkEvent, WorkItem
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.inbox.factories import ConversationFactory, PatientFactory
from tests.integration.conftest import _database_url
from tests.triage.factories import ClassificationFactory

pytestmark = pytest.mark.integration

ITEMS, ATTEMPTS_EACH = 600, 500


def test_two_processes_claiming_500_times_each_never_claim_one_item_twice(transactional_db):
    clinic = ClinicFactory()
    patient = PatientFactory(clinic=clinic)
    for n in range(ITEMS):
        message = ClassificationFactory(
            message__conversation=ConversationFactory(patient=patient),
            acuity=("emergent", "urgent", "routine")[n % 3],
        ).message
        services.route(message_id=message.pk)
    assert WorkItem.objects.filter(queue__role="nurse", status="open").count() == ITEMS
    nurses = [StaffFactory(clinic=clinic, role=Role.NURSE) for _ in range(2)]

    env = {**os.environ, "DATABASE_URL": _database_url(), "DEBUG": "1"}
    start_at = time.time() + 3
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.claimer",
                str(nurse.pk),
                str(ATTEMPTS_EACH),
                str(start_at),
            ],
            env=env,
            cwd=settings.BASE_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for nurse in nurses
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))

    first, second = (set(ids) for ids in results)
    both = [item_id for ids in results for item_id in ids]
    print(
        f"process 1 claimed {len(first)}, process 2 claimed {len(second)}, "
        f"claimed by both: {len(first & second)}, duplicates: {len(both) - len(set(both))}"
    )
    assert first.isdisjoint(second)
    assert len(both) == len(set(both)) == ITEMS  # every item claimed once, none twice
    assert min(len(first), len(second)) > 0  # they really raced
    for nurse, ids in zip(nurses, results, strict=True):
        assert set(WorkItem.objects.filter(claimed_by=nurse).values_list("pk", flat=True)) == set(
            ids
        )
    assert WorkEvent.objects.filter(kind=WorkEvent.Kind.CLAIMED).count() == ITEMS
