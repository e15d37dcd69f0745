"""Alerts to staff: created once (unique key), delivered by pluggable channels.

A notification row is inserted inside the transaction that decided it; delivery runs in
a task after commit, and the sweep retries whatever is still pending, so a lost task or
a channel outage delays an alert and never drops it.
"""

import datetime
import hashlib
import hmac
import json
import logging
import time
import urllib.request
from dataclasses import dataclass

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.models import Clinic, Role, User
from config.celery import DATABASE_RETRY
from routing import clinic_settings
from routing.models import Notification, WorkItem

logger = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Portal-Triage-Signature"
MAX_ATTEMPTS = 10


@dataclass(frozen=True)
class Recipient:
    channel: str
    address: str
    user: User | None = None


class EmailChannel:
    def send(self, notification: Notification) -> None:
        send_mail(
            notification.subject,
            notification.body,
            settings.DEFAULT_FROM_EMAIL,
            [notification.recipient],
            fail_silently=False,
        )


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, tolerance_seconds: int = 300) -> bool:
    """For receivers (and tests): the signature matches and is recent."""
    try:
        parts = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - timestamp) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


class WebhookChannel:
    """POSTs JSON signed with the clinic's secret (HMAC-SHA256 over "timestamp.body")."""

    timeout_seconds = 5

    def send(self, notification: Notification) -> None:
        routing_settings = clinic_settings.clinic_routing(clinic=notification.clinic)
        body = json.dumps(
            {
                "id": notification.pk,
                "kind": notification.kind,
                "window": notification.window,
                "clinic": notification.clinic.slug,
                "work_item": notification.work_item_id,
                "subject": notification.subject,
                "text": notification.body,
                "created_at": notification.created_at.isoformat(),
            }
        ).encode()
        request = urllib.request.Request(  # noqa: S310 - the URL is an admin-set https/http URL
            notification.recipient,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(
                    routing_settings.alert_webhook_secret, int(time.time()), body
                ),
            },
        )
        with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:  # noqa: S310
            if response.status >= 300:
                raise OSError(f"webhook answered {response.status}")


def channel(name: str):
    return import_string(settings.NOTIFICATION_CHANNELS[name])()


def on_call_recipients(*, item: WorkItem, at: datetime.datetime) -> list[Recipient]:
    """Who gets an emergency alert: the on-call clinicians; with no one on call, the
    clinic's fallback address; with none, every nurse and physician of the clinic. The
    clinic's webhook, when set, always gets it too. Never nobody."""
    return _with_fallbacks(
        clinic=item.clinic, first=clinic_settings.on_call_clinicians(clinic=item.clinic, at=at)
    )


def administrator_recipients(*, clinic: Clinic) -> list[Recipient]:
    """The clinic's administrators, with the same fallbacks and webhook as above."""
    return _with_fallbacks(
        clinic=clinic, first=clinic_settings.clinicians_of(clinic=clinic, roles=(Role.ADMIN,))
    )


def _emails(users) -> list[Recipient]:
    return [Recipient("email", u.email, u) for u in users if u.email]


def _with_fallbacks(*, clinic: Clinic, first: list[User]) -> list[Recipient]:
    routing_settings = clinic_settings.clinic_routing(clinic=clinic)
    recipients = _emails(first)
    if not recipients and routing_settings.on_call_fallback_email:
        recipients = [Recipient("email", routing_settings.on_call_fallback_email)]
    if not recipients:
        recipients = _emails(clinic_settings.clinicians_of(clinic=clinic))
    if routing_settings.alert_webhook_url:
        recipients.append(Recipient("webhook", routing_settings.alert_webhook_url))
    if not recipients:
        logger.error("clinic %s has no one to alert", clinic.pk)
    return recipients


def notify_once(
    *,
    item: WorkItem,
    kind: str,
    window: int,
    recipients: list[Recipient],
    subject: str,
    body: str,
) -> list[Notification]:
    """Insert one notification per recipient unless it exists (the unique key decides,
    not a prior read), and deliver the new ones after commit."""
    return _create_once(
        clinic_id=item.clinic_id,
        item=item,
        kind=kind,
        window=window,
        recipients=recipients,
        subject=subject,
        body=body,
    )


def notify_clinic_once(
    *,
    clinic: Clinic,
    kind: str,
    window: int,
    recipients: list[Recipient],
    subject: str,
    body: str,
) -> list[Notification]:
    """notify_once for an alert about the clinic, not one work item."""
    return _create_once(
        clinic_id=clinic.pk,
        item=None,
        kind=kind,
        window=window,
        recipients=recipients,
        subject=subject,
        body=body,
    )


def _create_once(
    *,
    clinic_id: int,
    item: WorkItem | None,
    kind: str,
    window: int,
    recipients: list[Recipient],
    subject: str,
    body: str,
) -> list[Notification]:
    created = []
    for recipient in recipients:
        try:
            with transaction.atomic():
                notification = Notification.objects.create(
                    clinic_id=clinic_id,
                    work_item=item,
                    kind=kind,
                    window=window,
                    channel=recipient.channel,
                    recipient=recipient.address,
                    user=recipient.user,
                    subject=subject,
                    body=body,
                )
        except IntegrityError:
            continue  # already made by another run or sweeper
        created.append(notification)
    for notification in created:
        transaction.on_commit(_after_commit_deliver(notification.pk), robust=True)
    return created


def _after_commit_deliver(notification_id: int):
    # A named function, not a partial: robust on_commit logs the callable's __qualname__.
    def deliver_notification_after_commit() -> None:
        deliver_notification.delay(notification_id)

    return deliver_notification_after_commit


@shared_task(**DATABASE_RETRY)
def deliver_notification(notification_id: int) -> None:
    # Beside the service it wraps, so notify_once can enqueue it without a cycle.
    deliver(notification_id=notification_id)


def deliver(*, notification_id: int) -> Notification | None:
    """Send one pending notification. Safe to run twice: the row is locked and a sent
    one is left alone; a failure leaves it pending for the sweep to retry."""
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("clinic")
            .filter(pk=notification_id, status=Notification.Status.PENDING)
            .first()
        )
        if notification is None:
            return None
        notification.attempts += 1
        try:
            channel(notification.channel).send(notification)
        except Exception as exc:
            logger.warning("notification %s failed: %s", notification.pk, exc)
            notification.last_error = str(exc)[:500]
            if notification.attempts >= MAX_ATTEMPTS:
                notification.status = Notification.Status.FAILED
        else:
            notification.status = Notification.Status.SENT
            notification.sent_at = timezone.now()
            notification.last_error = ""
        notification.save(update_fields=["attempts", "status", "sent_at", "last_error"])
        return notification
