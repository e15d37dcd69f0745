"""A malformed entry in the triage queue is dropped and logged; the worker goes on."""

import base64
import json
import time

import pytest

from config.celery import app as celery_app
from inbox.models import Message
from inbox.services import announce_received
from routing.models import WorkItem
from tests.accounts.factories import ClinicFactory
from tests.inbox.factories import MessageFactory

pytestmark = pytest.mark.integration

DEADLINE_SECONDS = 15
SECRET_BODY = "Patient Jane Roe has crushing chest pain"  # must never reach a log


def envelope(*, body: str, headers: dict, tag: str, encode: bool = True) -> str:
    return json.dumps(
        {
            "body": base64.b64encode(body.encode()).decode() if encode else body,
            "content-type": "application/json",
            "content-encoding": "utf-8",
            "headers": headers,
            "properties": {
                "delivery_tag": tag,
                "body_encoding": "base64",
                "delivery_info": {"exchange": "", "routing_key": "triage"},
            },
        }
    )


POISON = [
    f"not json {SECRET_BODY}",
    json.dumps([SECRET_BODY]),
    json.dumps({"body": SECRET_BODY}),
    envelope(body=f"!!{SECRET_BODY}", headers={}, tag="t1", encode=False),
    envelope(body=json.dumps({"note": SECRET_BODY}), headers={}, tag="t2"),
    envelope(body="[[1], {}, {}]", headers={"task": "nope.task", "id": "x1"}, tag="t3"),
    envelope(
        body=SECRET_BODY,
        headers={"task": "pipeline.tasks.classify_and_route", "id": "x2"},
        tag="t4",
    ),
    # Wrong arguments: the task fails (and is acknowledged), the worker does not.
    envelope(
        body=json.dumps([[1, 2, 3], {}, {}]),
        headers={"task": "pipeline.tasks.classify_and_route", "id": "x3"},
        tag="t5",
    ),
]


def test_worker_drops_malformed_tasks_and_routes_the_next_message(workers, active_model_version):
    # given: a worker consuming the triage queue
    workers.start("poison", queues="triage")
    clinic = ClinicFactory(slug="primary-care")
    message = MessageFactory(conversation__patient__clinic=clinic)

    # when: garbage is pushed straight into the queue list, then a real message announced
    with celery_app.connection_for_write() as conn:
        client = conn.default_channel.client
        for entry in POISON:
            client.lpush("triage", entry)
    announce_received(message_id=message.pk)

    # then: the real message is routed and the worker is still alive
    started = time.monotonic()
    while time.monotonic() - started < DEADLINE_SECONDS:
        if WorkItem.objects.filter(message_id=message.pk).exists():
            break
        time.sleep(0.1)
    log = workers.logs["poison"].read_text()
    assert workers.processes["poison"].poll() is None, log
    assert "Unrecoverable error" not in log
    assert WorkItem.objects.filter(message_id=message.pk).exists(), log
    assert Message.objects.get(pk=message.pk).status == Message.Status.ROUTED
    assert log.count("dropped a malformed broker message: queue=triage") == 7, log
    assert "Jane Roe" not in log
    with celery_app.connection_for_write() as conn:
        assert conn.default_channel.client.llen("triage") == 0
