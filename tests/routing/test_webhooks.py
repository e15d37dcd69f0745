"""Event webhooks through the services that cause them: one outbox row per subscription
and event, no message text unless the subscription carries PHI, a signature a receiver
can check, and retries, giving up and replay against a real HTTP receiver on 127.0.0.1."""

import datetime
import http.server
import json
import threading
import time

import pytest
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from accounts.models import CLINIC_ADMINISTRATORS_GROUP, Role
from billing import services as billing_services
from billing.models import EVisit
from routing import work_items
from routing.models import WebhookDelivery, WebhookEvent
from routing.notifications import sign, verify
from routing.webhooks import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    body_of,
    deliver,
    replay,
    retry_due_deliveries,
    retry_wait,
)
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.routing.factories import WebhookSubscriptionFactory, routed_item

pytestmark = pytest.mark.django_db

BODY = "My chest has hurt since this morning and the pain goes into my left arm."


class Receiver(http.server.BaseHTTPRequestHandler):
    answers: list[int] = []
    received: list[tuple[dict, bytes]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((dict(self.headers), body))
        self.send_response(Receiver.answers.pop(0) if Receiver.answers else 204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.answers, Receiver.received = [], []
    server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/events"
    server.shutdown()
    server.server_close()


def _route(clinic, capture, **kwargs):
    with capture(execute=False) as callbacks:
        item = routed_item(clinic, body=BODY, **kwargs)
    return item, callbacks


# --- signing -------------------------------------------------------------------------------


def test_a_signature_verifies_with_the_secret_only_and_for_that_body_and_recent_time():
    body = b'{"type":"work_item.closed"}'
    header = sign("whsec_a", int(time.time()), body)

    assert header.startswith("t=")
    assert ",v1=" in header
    assert verify("whsec_a", header, body)
    assert not verify("whsec_b", header, body)
    assert not verify("whsec_a", header, body + b" ")
    stale = sign("whsec_a", int(time.time()) - 301, body)
    assert not verify("whsec_a", stale, body)


# --- the outbox ----------------------------------------------------------------------------


def test_a_routed_message_queues_one_delivery_per_matching_active_subscription(
    django_capture_on_commit_callbacks,
):
    clinic = ClinicFactory()
    every = WebhookSubscriptionFactory(clinic=clinic)
    closed_only = WebhookSubscriptionFactory(clinic=clinic, events=[WebhookEvent.WORK_ITEM_CLOSED])
    WebhookSubscriptionFactory(clinic=clinic, active=False)
    WebhookSubscriptionFactory(clinic=ClinicFactory())  # another clinic's

    item, callbacks = _route(clinic, django_capture_on_commit_callbacks)

    deliveries = list(WebhookDelivery.objects.all())
    assert [d.subscription for d in deliveries] == [every]
    delivery = deliveries[0]
    assert (delivery.event, delivery.status, delivery.clinic) == (
        "message.routed",
        "pending",
        clinic,
    )
    assert delivery.payload["id"] == str(delivery.event_id)
    assert delivery.payload["clinic"] == clinic.slug
    work_item = delivery.payload["data"]["work_item"]
    assert (work_item["id"], work_item["acuity"], work_item["status"]) == (
        item.pk,
        item.acuity,
        "open",
    )
    assert work_item["queue"]["id"] == item.queue_id
    # Sent after commit, by name (robust on_commit logs it).
    assert [c.__qualname__.rsplit(".", 1)[-1] for c in callbacks] == [
        "deliver_webhook_after_commit"
    ]
    assert not closed_only.deliveries.exists()


def test_one_event_has_one_id_for_every_subscription(django_capture_on_commit_callbacks):
    clinic = ClinicFactory()
    WebhookSubscriptionFactory.create_batch(3, clinic=clinic)

    _route(clinic, django_capture_on_commit_callbacks)

    assert WebhookDelivery.objects.count() == 3
    assert WebhookDelivery.objects.values("event_id").distinct().count() == 1


def test_without_phi_no_message_text_goes_out_and_with_phi_it_does(
    django_capture_on_commit_callbacks,
):
    clinic = ClinicFactory()
    plain = WebhookSubscriptionFactory(clinic=clinic)
    phi = WebhookSubscriptionFactory(clinic=clinic, carries_phi=True)

    item, _ = _route(clinic, django_capture_on_commit_callbacks, subject="Chest pain")

    plain_body = body_of(plain.deliveries.get()).decode()
    assert "chest" not in plain_body.lower()
    assert "Chest pain" not in plain_body
    assert json.loads(plain_body)["data"]["message_id"] == item.message_id
    phi_payload = phi.deliveries.get().payload
    assert phi_payload["data"]["message"] == {"subject": "Chest pain", "body": BODY}


def test_a_rolled_back_change_queues_nothing(django_capture_on_commit_callbacks):
    clinic = ClinicFactory()
    WebhookSubscriptionFactory(clinic=clinic)
    item, _ = _route(clinic, django_capture_on_commit_callbacks)
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    WebhookDelivery.objects.all().delete()

    def close_then_fail():
        with transaction.atomic():
            work_items.close(actor=nurse, item_id=item.pk)
            raise RuntimeError("the request failed after closing")

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError):
        close_then_fail()

    assert not WebhookDelivery.objects.exists()
    assert callbacks == []


def test_escalate_close_and_approve_each_queue_their_event(django_capture_on_commit_callbacks):
    clinic = ClinicFactory()
    subscription = WebhookSubscriptionFactory(clinic=clinic, carries_phi=False)
    physician = StaffFactory(clinic=clinic, role=Role.PHYSICIAN)
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    billing = StaffFactory(clinic=clinic, role=Role.BILLING)
    item, _ = _route(clinic, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks():
        work_items.escalate(actor=nurse, item_id=item.pk, reason="Mrs Smith sounds worse")
        work_items.close(actor=physician, item_id=item.pk)
    evisit = EVisit.objects.create(
        clinic=clinic,
        conversation=item.conversation,
        status=EVisit.Status.READY,
        code="99422",
        minutes=12,
    )
    with django_capture_on_commit_callbacks():
        assert billing_services.approve(actor=billing, ids=[evisit.pk]) == 1

    events = list(subscription.deliveries.order_by("pk").values_list("event", flat=True))
    assert events == [
        "message.routed",
        "work_item.escalated",
        "work_item.closed",
        "evisit.approved",
    ]
    escalated = subscription.deliveries.get(event="work_item.escalated").payload["data"]
    assert escalated["work_item"]["service_level"] == "physician"
    assert "reason" not in escalated  # free text about the patient: PHI
    assert "Smith" not in json.dumps(escalated)
    closed = subscription.deliveries.get(event="work_item.closed").payload["data"]
    assert closed["work_item"]["status"] == "closed"
    approved = subscription.deliveries.get(event="evisit.approved").payload["data"]["evisit"]
    assert (approved["id"], approved["code"], approved["status"]) == (
        evisit.pk,
        "99422",
        "approved",
    )


# --- delivery ------------------------------------------------------------------------------


def test_a_delivery_is_sent_signed_once_and_a_2xx_marks_it_delivered(
    receiver, django_capture_on_commit_callbacks
):
    clinic = ClinicFactory()
    subscription = WebhookSubscriptionFactory(clinic=clinic, url=receiver)

    with django_capture_on_commit_callbacks(execute=True):  # the task runs in process
        routed_item(clinic)

    delivery = subscription.deliveries.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 204)
    headers, body = Receiver.received[0]
    assert verify(subscription.secret, headers[SIGNATURE_HEADER], body)
    assert headers[EVENT_ID_HEADER] == str(delivery.event_id)
    assert json.loads(body) == delivery.payload
    # Neither a re-run task nor the sweep sends it again.
    assert deliver(delivery_id=delivery.pk) is None
    assert retry_due_deliveries() == 0
    assert len(Receiver.received) == 1


def test_a_failed_delivery_waits_is_retried_by_the_sweep_and_then_delivered(
    receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_RETRY_SECONDS = [10, 30]
    clinic = ClinicFactory()
    subscription = WebhookSubscriptionFactory(clinic=clinic, url=receiver)
    Receiver.answers = [503, 500]

    with django_capture_on_commit_callbacks(execute=True):
        routed_item(clinic)
    delivery = subscription.deliveries.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (
        "pending",
        1,
        "answered 503",
    )
    first_wait = delivery.next_attempt_at - timezone.now()
    assert datetime.timedelta(seconds=8) < first_wait <= datetime.timedelta(seconds=10)

    assert retry_due_deliveries() == 0  # not due yet: nothing sent
    assert len(Receiver.received) == 1
    later = timezone.now() + datetime.timedelta(seconds=11)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert retry_due_deliveries(now=later) == 0  # the receiver answers 500
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert delivery.next_attempt_at - timezone.now() > datetime.timedelta(seconds=28)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert retry_due_deliveries() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    assert len({body for _, body in Receiver.received}) == 1  # the same body each time


def test_retry_waits_follow_the_steps_then_repeat_the_last(settings):
    settings.WEBHOOK_RETRY_SECONDS = [10, 30, 60]
    assert [retry_wait(n).total_seconds() for n in (1, 2, 3, 4, 9)] == [10, 30, 60, 60, 60]


def test_it_gives_up_after_the_attempts_and_a_replay_sends_it_again(
    receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    clinic = ClinicFactory()
    subscription = WebhookSubscriptionFactory(clinic=clinic, url=receiver)
    Receiver.answers = [500, 500]
    with django_capture_on_commit_callbacks(execute=True):
        routed_item(clinic)
    delivery = subscription.deliveries.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    retry_due_deliveries()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 2)
    assert retry_due_deliveries() == 0  # failed: the sweep leaves it

    with django_capture_on_commit_callbacks(execute=True):
        assert replay(deliveries=WebhookDelivery.objects.filter(pk=delivery.pk)) == 1

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    assert len(Receiver.received) == 3


def test_a_receiver_that_is_down_leaves_it_pending(settings, django_capture_on_commit_callbacks):
    clinic = ClinicFactory()
    # Port 9 (discard) on loopback: nothing listens, the connection is refused.
    subscription = WebhookSubscriptionFactory(clinic=clinic, url="http://127.0.0.1:9/x")
    with django_capture_on_commit_callbacks(execute=True):
        routed_item(clinic)
    delivery = subscription.deliveries.get()
    assert delivery.status == "pending"
    assert delivery.last_status_code is None
    assert "refused" in delivery.last_error.lower()


# --- the admin -----------------------------------------------------------------------------


@pytest.fixture
def clinic_administrator():
    clinic = ClinicFactory()
    user = StaffFactory(clinic=clinic, role=Role.ADMIN, is_staff=True)
    user.groups.add(Group.objects.get(name=CLINIC_ADMINISTRATORS_GROUP))
    return clinic, user


def test_the_clinic_administrator_sees_their_deliveries_and_the_secret_and_replays(
    client, clinic_administrator, receiver, django_capture_on_commit_callbacks
):
    clinic, administrator = clinic_administrator
    ours = WebhookSubscriptionFactory(clinic=clinic, url="http://127.0.0.1:9/down")
    theirs = WebhookSubscriptionFactory(clinic=ClinicFactory(), url="http://127.0.0.1:9/down")
    with django_capture_on_commit_callbacks(execute=True):
        routed_item(clinic)
        routed_item(theirs.clinic)
    WebhookDelivery.objects.update(status=WebhookDelivery.Status.FAILED)
    client.force_login(administrator)

    listing = client.get("/admin/routing/webhookdelivery/?status__exact=failed")
    page = client.get(f"/admin/routing/webhooksubscription/{ours.pk}/change/")
    other = client.get(f"/admin/routing/webhooksubscription/{theirs.pk}/change/")

    assert listing.status_code == 200
    shown = list(listing.context["cl"].result_list)
    assert shown == list(ours.deliveries.all())
    assert ours.secret in page.content.decode()
    assert other.status_code == 302  # not found, back to the index

    ours.url = receiver
    ours.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/routing/webhookdelivery/",
            {
                "action": "replay",
                "_selected_action": [d.pk for d in WebhookDelivery.objects.all()],
            },
        )
    assert response.status_code == 302
    assert list(
        WebhookDelivery.objects.order_by("subscription").values_list("status", flat=True)
    ) == [
        "delivered",
        "failed",  # another clinic's: not theirs to replay
    ]
    assert len(Receiver.received) == 1
