"""Event webhooks through a real worker (with beat) to a receiver on 127.0.0.1: each event
once per subscription, signed; the receiver down for a minute gets the event once it is
back (retries), and nothing it acknowledged is sent again."""

import http.server
import json
import threading
import time
from collections import Counter

import pytest

from accounts.models import Role
from billing import services as billing_services
from billing.models import EVisit
from routing import work_items
from routing.models import WebhookDelivery, WebhookEvent
from routing.notifications import verify
from routing.webhooks import EVENT_ID_HEADER, SIGNATURE_HEADER
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.routing.factories import WebhookSubscriptionFactory, routed_item

pytestmark = pytest.mark.integration

DOWN_SECONDS = 60
RETRY_SECONDS = 3


class Receiver(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, dict, bytes]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((self.path, dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


class ReceiverServer:
    """The receiver, stopped and started again on the same port."""

    def __init__(self):
        self.port = 0
        self.server = None
        self.start()

    def start(self) -> None:
        self.server = http.server.HTTPServer(("127.0.0.1", self.port), Receiver)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()  # the port refuses connections until start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def receiver():
    Receiver.received = []
    server = ReceiverServer()
    yield server
    server.stop()


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def _events_at(path: str) -> list[str]:
    return [json.loads(body)["type"] for p, _, body in Receiver.received if p == path]


def test_each_event_once_per_subscription_signed_and_after_a_minute_down(workers, receiver):
    # given: a clinic with two receivers (one of every event, one of two events with PHI),
    # and another clinic's receiver that must hear nothing of it
    clinic = ClinicFactory()
    every = WebhookSubscriptionFactory(clinic=clinic, url=receiver.url("/every"))
    phi = WebhookSubscriptionFactory(
        clinic=clinic,
        url=receiver.url("/phi"),
        events=[WebhookEvent.MESSAGE_ROUTED, WebhookEvent.WORK_ITEM_CLOSED],
        carries_phi=True,
    )
    WebhookSubscriptionFactory(clinic=ClinicFactory(), url=receiver.url("/other"))
    secrets = {"/every": every.secret, "/phi": phi.secret}
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    physician = StaffFactory(clinic=clinic, role=Role.PHYSICIAN)
    billing = StaffFactory(clinic=clinic, role=Role.BILLING)
    workers.start(
        "webhooks",
        beat=True,
        WEBHOOK_RETRY_SECONDS=RETRY_SECONDS,
        WEBHOOK_SWEEP_INTERVAL_SECONDS=1,
        WEBHOOK_MAX_ATTEMPTS=100,
    )

    # when: the four events happen (each service commits, then enqueues)
    started = time.monotonic()
    item = routed_item(clinic, body="My ankle is still swollen after the fall.")
    work_items.escalate(actor=nurse, item_id=item.pk, reason="swelling worse")
    work_items.close(actor=physician, item_id=item.pk)
    evisit = EVisit.objects.create(
        clinic=clinic,
        conversation=item.conversation,
        status=EVisit.Status.READY,
        code="99422",
        minutes=12,
    )
    assert billing_services.approve(actor=billing, ids=[evisit.pk]) == 1

    # then: each subscription gets each of its events, signed with its own secret
    assert _wait_for(lambda: len(Receiver.received) >= 6, 15), Receiver.received
    first_seconds = time.monotonic() - started
    assert sorted(_events_at("/every")) == sorted(WebhookEvent.values)
    assert sorted(_events_at("/phi")) == ["message.routed", "work_item.closed"]
    assert _events_at("/other") == []
    for path, headers, body in Receiver.received:
        assert verify(secrets[path], headers[SIGNATURE_HEADER], body), path
        assert not verify(
            secrets["/phi" if path == "/every" else "/every"], headers[SIGNATURE_HEADER], body
        )
        assert headers[EVENT_ID_HEADER] == json.loads(body)["id"]
    routed = {
        path: json.loads(body) for path, _, body in Receiver.received if b"message.routed" in body
    }
    assert "swollen" not in json.dumps(routed["/every"])
    assert "swollen" in routed["/phi"]["data"]["message"]["body"]

    # when: the receiver is down for a minute while a new message is routed
    receiver.stop()
    down_at = time.monotonic()
    routed_item(clinic, body="The swelling is worse today.")
    time.sleep(DOWN_SECONDS)
    pending = WebhookDelivery.objects.filter(event="message.routed", status="pending")
    attempts_while_down = sorted(pending.values_list("attempts", flat=True))
    receiver.start()
    up_at = time.monotonic()

    # then: it arrives once it is back, for both subscriptions
    assert _wait_for(lambda: len(Receiver.received) >= 8, 3 * RETRY_SECONDS + 5)
    after_up_seconds = time.monotonic() - up_at
    # ...and nothing acknowledged is sent again, through several more sweeps
    time.sleep(2 * RETRY_SECONDS + 2)

    counts = Counter((path, headers[EVENT_ID_HEADER]) for path, headers, _ in Receiver.received)
    print(
        f"first 6 deliveries within {first_seconds:.1f}s; receiver down {up_at - down_at:.0f}s, "
        f"attempts while down {attempts_while_down}; delivered {after_up_seconds:.1f}s after "
        f"it was back; {len(Receiver.received)} requests for {len(counts)} (receiver, event)"
    )
    assert len(attempts_while_down) == 2
    assert min(attempts_while_down) >= DOWN_SECONDS // (RETRY_SECONDS + 2)
    assert len(counts) == 8
    assert set(counts.values()) == {1}
    assert _events_at("/every").count("message.routed") == 2
    assert not WebhookDelivery.objects.exclude(status="delivered").exists()
