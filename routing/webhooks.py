"""Signed event webhooks: events pushed to the URLs a clinic subscribed.

Outbox shape, like the staff alerts of routing.notifications: the service that makes a
change writes one WebhookDelivery per matching subscription in the same transaction (a
rolled-back change sends nothing), a task sends it after commit, and a beat sweep sends
again whatever is due (receiver down, lost task), with growing waits, until the receiver
answers 2xx or the delivery is given up. A delivery is sent under its row lock and
re-checked as pending, so two workers never both send it, and an acknowledged one is
never sent again (unless an administrator replays it).

Bodies are signed like Stripe's: `X-Portal-Signature: t=<unix time>,v1=<hex HMAC-SHA256
of "<t>.<body>" with the subscription's secret>` (routing.notifications.sign/verify).
"""

import datetime
import http.client
import json
import logging
import time
import urllib.error
import urllib.request
import uuid

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Clinic
from config.celery import DATABASE_RETRY
from inbox.models import Message
from routing import clinic_settings
from routing.models import WebhookDelivery, WebhookEvent, WorkItem
from routing.notifications import sign

logger = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Portal-Signature"
EVENT_ID_HEADER = "X-Portal-Event-Id"
EVENT_HEADER = "X-Portal-Event"
BATCH = 200


# --- events ------------------------------------------------------------------------------


def emit(
    *, clinic: Clinic, event: str, data: dict, phi: dict | None = None
) -> list[WebhookDelivery]:
    """Queue `event` for each active subscription of `clinic` to it: call inside the
    transaction of the change. `phi` (message text) is added to `data` only for the
    subscriptions marked to carry it."""
    subscriptions = [
        s for s in clinic_settings.webhook_subscriptions(clinic=clinic) if event in s.events
    ]
    if not subscriptions:
        return []
    event_id, now = uuid.uuid4(), timezone.now()
    envelope = {
        "id": str(event_id),
        "type": event,
        "created_at": now.isoformat(),
        "clinic": clinic.slug,
    }
    deliveries = [
        WebhookDelivery.objects.create(
            clinic=clinic,
            subscription=subscription,
            event=event,
            event_id=event_id,
            payload={
                **envelope,
                "data": {**data, **phi} if subscription.carries_phi and phi else data,
            },
            next_attempt_at=now,
            queued_at=now,
        )
        for subscription in subscriptions
    ]
    for delivery in deliveries:
        transaction.on_commit(_after_commit_deliver(delivery.pk), robust=True)
    return deliveries


def _work_item_data(item: WorkItem) -> dict:
    """What any receiver may know of a work item: ids and where it stands, no text."""
    return {
        "id": item.pk,
        "conversation_id": item.conversation_id,
        "message_id": item.message_id,
        "queue": {"id": item.queue_id, "name": item.queue.name, "role": item.queue.role},
        "acuity": item.acuity,
        "service_level": item.service_level,
        "status": item.status,
        "escalation_level": item.escalation_level,
        "due_at": item.due_at.isoformat() if item.due_at else None,
    }


def _message_text(message: Message) -> dict:
    return {"message": {"subject": message.subject, "body": message.body}}


def message_routed(*, item: WorkItem, message: Message) -> list[WebhookDelivery]:
    return emit(
        clinic=item.clinic,
        event=WebhookEvent.MESSAGE_ROUTED,
        data={"message_id": message.pk, "work_item": _work_item_data(item)},
        phi=_message_text(message),
    )


def work_item_escalated(*, item: WorkItem, reason: str) -> list[WebhookDelivery]:
    # The reason may be a clinician's free text about the patient: PHI.
    return emit(
        clinic=item.clinic,
        event=WebhookEvent.WORK_ITEM_ESCALATED,
        data={"work_item": _work_item_data(item)},
        phi={"reason": reason},
    )


def work_item_closed(*, item: WorkItem) -> list[WebhookDelivery]:
    return emit(
        clinic=item.clinic,
        event=WebhookEvent.WORK_ITEM_CLOSED,
        data={
            "work_item": _work_item_data(item),
            "closed_at": item.closed_at.isoformat() if item.closed_at else None,
        },
    )


# --- delivery ----------------------------------------------------------------------------


def _after_commit_deliver(delivery_id: int):
    # A named function, not a partial: robust on_commit logs the callable's __qualname__.
    def deliver_webhook_after_commit() -> None:
        deliver_webhook.delay(delivery_id)

    return deliver_webhook_after_commit


@shared_task(**DATABASE_RETRY)
def deliver_webhook(delivery_id: int) -> None:
    # Beside the service it wraps, so emit() can enqueue it without an import cycle.
    deliver(delivery_id=delivery_id)


def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()


def signed_headers(*, secret: str, delivery: WebhookDelivery, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "portal-triage-webhooks/1",
        SIGNATURE_HEADER: sign(secret, int(time.time()), body),
        EVENT_ID_HEADER: str(delivery.event_id),
        EVENT_HEADER: delivery.event,
    }


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect would re-send (or drop) the signed body somewhere the clinic never named.
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _post(*, url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310 - an admin-set http(s) URL
    try:
        with _opener.open(request, timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as response:
            return response.status
    except urllib.error.HTTPError as exc:  # 3xx, 4xx and 5xx answers
        return exc.code


def retry_wait(attempts: int) -> datetime.timedelta:
    """The wait after the `attempts`-th failed attempt: the configured steps, then the last
    step again."""
    waits = settings.WEBHOOK_RETRY_SECONDS
    return datetime.timedelta(seconds=waits[min(attempts, len(waits)) - 1])


def deliver(*, delivery_id: int) -> WebhookDelivery | None:
    """Send one due delivery. The row stays locked while it is sent, and only a pending,
    due one is sent: a second worker (the sweep, a re-run task) skips it or finds it
    delivered. Any answer but 2xx, or no answer, leaves it pending for a later try."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("subscription")
            .filter(
                pk=delivery_id,
                status=WebhookDelivery.Status.PENDING,
                next_attempt_at__lte=timezone.now(),
            )
            .first()
        )
        if delivery is None:
            return None
        subscription = delivery.subscription
        if not subscription.active:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.last_error = "the subscription is switched off"
            delivery.save(update_fields=["status", "last_error"])
            return delivery
        delivery.attempts += 1
        body = body_of(delivery)
        error, code = "", None
        try:
            code = _post(
                url=subscription.url,
                body=body,
                headers=signed_headers(secret=subscription.secret, delivery=delivery, body=body),
            )
        except (OSError, ValueError, http.client.HTTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"
        now = timezone.now()
        delivery.last_status_code = code
        if code is not None and 200 <= code < 300:
            delivery.status, delivery.delivered_at, delivery.last_error = (
                WebhookDelivery.Status.DELIVERED,
                now,
                "",
            )
        else:
            delivery.last_error = (error or f"answered {code}")[:500]
            give_up_at = delivery.queued_at + datetime.timedelta(
                seconds=settings.WEBHOOK_GIVE_UP_AFTER_SECONDS
            )
            if delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS or now >= give_up_at:
                delivery.status = WebhookDelivery.Status.FAILED
            else:
                delivery.next_attempt_at = now + retry_wait(delivery.attempts)
            logger.warning(
                "webhook delivery %s (attempt %s) failed: %s",
                delivery.pk,
                delivery.attempts,
                delivery.last_error,
            )
        delivery.save(
            update_fields=[
                "attempts",
                "status",
                "delivered_at",
                "last_error",
                "last_status_code",
                "next_attempt_at",
            ]
        )
        return delivery


def retry_due_deliveries(*, now: datetime.datetime | None = None) -> int:
    """The beat sweep: send what is due (a failed try's wait is over, or the after-commit
    task was lost). Returns how many were delivered."""
    now = now or timezone.now()
    due = WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    ).order_by("next_attempt_at")
    delivered = 0
    for delivery_id in list(due.values_list("pk", flat=True)[:BATCH]):
        result = deliver(delivery_id=delivery_id)
        delivered += bool(result and result.status == WebhookDelivery.Status.DELIVERED)
    return delivered


def replay(*, deliveries) -> int:
    """Queue failed (or delivered) deliveries again, as new, from the admin: same event id
    and body, so a receiver that already has it can tell. Returns how many."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            deliveries.select_for_update(of=("self",))
            .exclude(status=WebhookDelivery.Status.PENDING)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        WebhookDelivery.objects.filter(pk__in=ids).update(
            status=WebhookDelivery.Status.PENDING,
            attempts=0,
            next_attempt_at=now,
            queued_at=now,
            last_error="",
            delivered_at=None,
        )
        for delivery_id in ids:
            transaction.on_commit(_after_commit_deliver(delivery_id), robust=True)
    return len(ids)
