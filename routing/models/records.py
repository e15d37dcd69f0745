"""Records of what routing did: alerts and notices, SLA breaches, rule replays; and the
operations dashboard's stored figures."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q

from routing.models.configuration import RoutingRule
from routing.models.work import WorkItem
from triage.ml.labels import Acuity


class Notification(models.Model):
    """An alert or notice to staff, made once: the unique key (work item, kind, window,
    recipient) lets concurrent sweepers and task re-runs insert it without checking."""

    class Kind(models.TextChoices):
        ON_CALL_ALERT = "on_call_alert", "On-call alert"
        SLA_ESCALATION = "sla_escalation", "SLA escalation"
        RULE_NOTICE = "rule_notice", "Rule notice"
        REPLY_UNDELIVERED = "reply_undelivered", "Reply not delivered"
        AFTER_HOURS_ALERT = "after_hours_alert", "After-hours urgent alert"
        MESSAGES_UNROUTED = "messages_unrouted", "Messages not routed"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    # None for an alert about the clinic rather than one item (messages not routed: there
    # is no work item yet).
    work_item = models.ForeignKey(
        WorkItem, null=True, on_delete=models.PROTECT, related_name="notifications"
    )
    kind = models.CharField(max_length=32, choices=Kind)
    # Which repeat this is: emergent alerts repeat every 15 minutes until claimed. For a
    # reply that was not delivered, the reply's id: one alert per reply. For messages not
    # routed, the newest message id the alert covers.
    window = models.PositiveIntegerField(default=0)
    channel = models.CharField(max_length=16)  # email | webhook
    recipient = models.CharField(max_length=300)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    subject = models.CharField(max_length=300)
    body = models.TextField()
    status = models.CharField(max_length=16, choices=Status, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["work_item", "kind", "window", "channel", "recipient"],
                name="notification_once_per_item_kind_window_recipient",
            ),
            # The same key for clinic-wide alerts (NULL work items would never collide).
            models.UniqueConstraint(
                fields=["clinic", "kind", "window", "channel", "recipient"],
                condition=Q(work_item__isnull=True),
                name="notification_once_per_clinic_kind_window_recipient",
            ),
        ]
        indexes = [
            models.Index(
                fields=["created_at"], condition=Q(status="pending"), name="notification_pending"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.window} to {self.recipient} ({self.status})"


class SlaBreach(models.Model):
    """A due time passed with the work unanswered. Inserting this row is the gate that
    makes the sweep's escalation happen once, however many sweepers run at once: the
    key is the item, the due time it missed, and which repeat (emergent repeats)."""

    work_item = models.ForeignKey(WorkItem, on_delete=models.PROTECT, related_name="breaches")
    due_at = models.DateTimeField()
    window = models.PositiveIntegerField(default=1)
    acuity = models.CharField(max_length=16, choices=Acuity.choices)
    action = models.CharField(max_length=200, blank=True)
    detected_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "SLA breach"
        verbose_name_plural = "SLA breaches"
        constraints = [
            models.UniqueConstraint(
                fields=["work_item", "due_at", "window"], name="slabreach_once_per_item_due_window"
            ),
        ]

    def __str__(self) -> str:
        return f"breach {self.window} of work item {self.work_item_id}"


class RuleReplay(models.Model):
    """An administrator's request to see what one rule edit would move, over the clinic's
    messages of the last days, before saving it. Computed on the slow queue (a month of
    a large clinic's messages takes seconds); the report is kept for the record."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The saved rule that was edited; empty for a new rule.
    rule = models.ForeignKey(
        RoutingRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="replays"
    )
    # The edited rule: name, order, enabled, conditions, action.
    proposed_rule = models.JSONField()
    days = models.PositiveSmallIntegerField()
    since = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status, default=Status.PENDING)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Replay of '{self.proposed_rule.get('name', '')}' over {self.days} days"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)


class OperationsSnapshot(models.Model):
    """One clinic's operations dashboard figures as computed at `computed_at`
    (routing.operations_rollup): over a year of a large clinic the live aggregates take
    seconds, so beat keeps these fresh and the page reads them; the backlog stays live."""

    clinic = models.OneToOneField(
        "accounts.Clinic", on_delete=models.CASCADE, related_name="operations_snapshot"
    )
    computed_at = models.DateTimeField()
    # The first day of the period the figures cover: a new week starts a new period.
    period_start = models.DateTimeField()
    # Items received in the period, and how long computing the figures took.
    items = models.PositiveIntegerField()
    seconds = models.FloatField()
    figures = models.JSONField(encoder=DjangoJSONEncoder)

    def __str__(self) -> str:
        return f"Operations figures of {self.clinic} at {self.computed_at:%Y-%m-%d %H:%M}"
