"""Signed event webhooks: a clinic's subscriptions, and the outbox their deliveries are
sent from (routing.webhooks)."""

import secrets

from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q


class WebhookEvent(models.TextChoices):
    MESSAGE_ROUTED = "message.routed", "A message was routed"
    WORK_ITEM_ESCALATED = "work_item.escalated", "A work item was escalated"
    WORK_ITEM_CLOSED = "work_item.closed", "A work item was closed"
    EVISIT_APPROVED = "evisit.approved", "An e-visit was approved"


def new_webhook_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


class WebhookSubscription(models.Model):
    """Where a clinic wants its events. The secret is kept in clear: signing needs it on
    this side (it is shown to the clinic's administrators in the admin, to set up the
    receiver's check)."""

    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="webhook_subscriptions"
    )
    name = models.CharField(max_length=100, help_text="Who receives it, e.g. 'EHR inbox'.")
    url = models.URLField(max_length=500, validators=[URLValidator(schemes=["https", "http"])])
    secret = models.CharField(max_length=100, default=new_webhook_secret, editable=False)
    # A list of WebhookEvent values (a JSON list: the suite also runs on SQLite).
    events = models.JSONField(default=list)
    carries_phi = models.BooleanField(
        default=False,
        help_text="Send message text too. Only for a receiver covered by a business "
        "associate agreement; without it, events carry ids, queue, acuity and status.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["clinic", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.url})"


class WebhookDelivery(models.Model):
    """One event for one subscription: written in the transaction of the change that
    caused it, sent after commit, retried by the sweep until the receiver answers 2xx or
    it is given up (failed, replayable from the admin)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.PROTECT, related_name="deliveries"
    )
    event = models.CharField(max_length=32, choices=WebhookEvent)
    # The same for every subscription that gets the event: receivers deduplicate on it.
    event_id = models.UUIDField()
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # When it was queued, first or again by a replay: it is given up a day after this.
    queued_at = models.DateTimeField()
    last_error = models.CharField(max_length=500, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "event_id"], name="webhookdelivery_once_per_subscription"
            ),
        ]
        indexes = [
            # The retry sweep (routing.webhooks.retry_due_deliveries): pending rows only.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="webhookdelivery_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.event_id} ({self.status})"
