from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from accounts.models import Membership, Role
from config.models import TimeStampedModel
from routing import rules as routing_rules
from routing.sla import Clock
from triage.ml.labels import Acuity, ServiceLevel


class Queue(TimeStampedModel):
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="queues")
    role = models.CharField(max_length=16, choices=Role)
    name = models.CharField(max_length=200)
    # The queue a message lands in when no rule picks another one for its role.
    is_role_default = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "role"],
                condition=Q(is_role_default=True),
                name="queue_one_default_per_clinic_role",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.clinic.name}: {self.name}"


class WorkItem(TimeStampedModel):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLAIMED = "claimed", "Claimed"
        RESPONDED = "responded", "Responded"
        CLOSED = "closed", "Closed"

    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="work_items"
    )
    conversation = models.ForeignKey(
        "inbox.Conversation", on_delete=models.PROTECT, related_name="work_items"
    )
    message = models.ForeignKey(
        "inbox.Message", on_delete=models.PROTECT, related_name="work_items"
    )
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="work_items")
    status = models.CharField(max_length=16, choices=Status, default=Status.OPEN)
    acuity = models.CharField(max_length=16, choices=Acuity.choices)
    acuity_rank = models.PositiveSmallIntegerField()  # 0 = emergent; sorts the queue page
    service_level = models.CharField(max_length=16, choices=ServiceLevel.choices)
    due_at = models.DateTimeField()
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Why this item sits in this queue, shown to staff ("why is this here?").
    routing_reason = models.CharField(max_length=500, blank=True)
    matched_rule = models.ForeignKey(
        "RoutingRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The whole decision as made (rule, reasons, SLA target), kept even if the rule
    # is later edited or deleted.
    routing_decision = models.JSONField(default=dict, blank=True)
    # How many times the item was escalated (by staff or by the SLA sweep).
    escalation_level = models.PositiveSmallIntegerField(default=0)
    breached_at = models.DateTimeField(null=True, blank=True)
    # Who closed it (shown on a closed item); cleared when it reopens.
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # An urgent message received outside business hours was answered automatically: the
    # office is closed, call the after-hours line or 911 (shown on the item and the queue).
    after_hours_acknowledged_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Work item {self.pk} ({self.acuity}, {self.status})"

    def hold_for(self, person, at) -> None:
        """Held by one person (claimed or assigned); the caller saves."""
        self.status, self.claimed_by, self.claimed_at = self.Status.CLAIMED, person, at

    def release(self) -> None:
        """Back to the pool, held by nobody; the caller saves."""
        self.status, self.claimed_by, self.claimed_at = self.Status.OPEN, None, None

    class Meta:
        constraints = [
            # One open item per conversation: this is what makes route() safe to run twice.
            models.UniqueConstraint(
                fields=["conversation"],
                condition=~Q(status="closed"),
                name="workitem_one_open_per_conversation",
            ),
            models.CheckConstraint(
                condition=~Q(status="claimed") | Q(claimed_by__isnull=False),
                name="workitem_claimed_has_claimer",
            ),
        ]
        indexes = [
            # Queue page (routing.selectors.open_work_items): open items only, so it stays
            # small as history grows.
            models.Index(
                fields=["queue", "acuity_rank", "due_at", "id"],
                condition=Q(status="open"),
                name="workitem_open_by_queue",
            ),
            # The SLA sweep: items not yet answered, by due time.
            models.Index(
                fields=["due_at"],
                condition=Q(status__in=["open", "claimed"]),
                name="workitem_unanswered_by_due",
            ),
        ]


class WorkEvent(models.Model):
    """Audit trail of a work item: who did what, when, from where to where, and why."""

    class Kind(models.TextChoices):
        ROUTED = "routed", "Routed"
        MESSAGE_ADDED = "message_added", "Message added"
        CLAIMED = "claimed", "Claimed"
        REASSIGNED = "reassigned", "Reassigned"
        ESCALATED = "escalated", "Escalated"
        RETURNED = "returned", "Returned to queue"
        RESPONDED = "responded", "Responded"
        CLOSED = "closed", "Closed"
        REOPENED = "reopened", "Reopened"
        ASSIGNED = "assigned", "Assigned"
        COVERED = "covered", "Covered (out of office)"
        SLA_BREACHED = "sla_breached", "SLA breached"
        ALERTED = "alerted", "Alert sent"
        CALLED_PATIENT = "called_patient", "Called the patient"
        AFTER_HOURS_ACKNOWLEDGED = "after_hours_acknowledged", "After hours: patient told to call"

    work_item = models.ForeignKey(WorkItem, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=32, choices=Kind)

    class CallOutcome(models.TextChoices):
        REACHED = "reached", "Reached the patient"
        VOICEMAIL = "voicemail", "Left a voicemail"
        NO_ANSWER = "no_answer", "No answer"

    # For a CALLED_PATIENT event: how the call went (its time is the event's).
    call_outcome = models.CharField(max_length=16, choices=CallOutcome, blank=True)
    # The patient message that caused it, for routing events: each message is routed
    # exactly once, and this is how that is checked.
    message = models.ForeignKey(
        "inbox.Message", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    from_queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    from_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["work_item", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} on work item {self.work_item_id}"


class RoutingRule(TimeStampedModel):
    """One clinic routing rule (routing/rules.py describes conditions and actions)."""

    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="rules")
    name = models.CharField(max_length=200)
    order = models.IntegerField(help_text="Lower runs first; the first matching rule wins.")
    enabled = models.BooleanField(default=True)
    conditions = models.JSONField(default=dict, blank=True)
    action = models.JSONField(default=dict)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["clinic", "order", "id"]
        indexes = [models.Index(fields=["clinic", "enabled", "order"])]

    def __str__(self) -> str:
        return f"{self.order}. {self.name}"

    def clean(self) -> None:
        try:
            routing_rules.validate(self.conditions, self.action)
        except routing_rules.InvalidRule as exc:
            raise ValidationError({"conditions": str(exc)}) from exc
        # The ids a rule names must be this clinic's: a rule never routes across clinics.
        errors = {}
        queue_id = self.action.get("queue")
        if (
            queue_id is not None
            and not Queue.objects.filter(
                pk=queue_id, clinic_id=self.clinic_id, role__in=ServiceLevel.values
            ).exists()
        ):
            errors["action"] = f"queue {queue_id} is not a work queue of this clinic"
        people = [self.action.get("assign_to"), *self.action.get("notify", [])]
        people = {p for p in people if p is not None}
        staff = set(
            Membership.objects.filter(clinic_id=self.clinic_id, user_id__in=people).values_list(
                "user_id", flat=True
            )
        )
        if people - staff:
            errors["action"] = f"users {sorted(people - staff)} are not staff of this clinic"
        if errors:
            raise ValidationError(errors)

    def as_rule(self) -> routing_rules.Rule:
        return routing_rules.Rule(
            id=self.pk,
            name=self.name,
            order=self.order,
            enabled=self.enabled,
            conditions=self.conditions,
            action=self.action,
        )


class SlaPolicy(TimeStampedModel):
    """A clinic's response target per acuity, optionally for one role only."""

    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="sla_policies"
    )
    acuity = models.CharField(max_length=16, choices=Acuity.choices)
    role = models.CharField(max_length=16, choices=ServiceLevel.choices, blank=True)
    clock = models.CharField(max_length=20, choices=[(c.value, c.value) for c in Clock])
    amount = models.PositiveIntegerField(help_text="Minutes, or days for business_days.")

    class Meta:
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "acuity", "role"], name="slapolicy_one_per_clinic_acuity_role"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="slapolicy_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.clinic}: {self.acuity} {self.role or 'any role'} {self.amount} {self.clock}"


class ClinicRouting(TimeStampedModel):
    """Per-clinic routing settings: holidays, and where emergency alerts go."""

    clinic = models.OneToOneField(
        "accounts.Clinic", on_delete=models.CASCADE, related_name="routing_settings"
    )
    holiday_country = models.CharField(max_length=2, default="US", blank=True)
    holiday_subdivision = models.CharField(max_length=8, blank=True)
    # Who is alerted when no on-call shift covers the moment (never nobody).
    on_call_fallback_email = models.EmailField(blank=True)
    alert_webhook_url = models.URLField(blank=True)
    alert_webhook_secret = models.CharField(max_length=200, blank=True)
    # The number an urgent message received outside business hours is told to call (in
    # the automatic acknowledgement), and whether the on-call nurse is alerted too.
    after_hours_phone = models.CharField("after-hours line", max_length=40, blank=True)
    alert_on_call_for_after_hours_urgent = models.BooleanField(
        "alert the on-call nurse for urgent messages after hours", default=False
    )

    class Meta:
        verbose_name = "clinic routing settings"
        verbose_name_plural = "clinic routing settings"

    def __str__(self) -> str:
        return f"Routing settings of {self.clinic}"


class BusinessHours(models.Model):
    """One open window of a weekday; several on one day make a split shift."""

    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.CASCADE, related_name="business_hours"
    )
    weekday = models.PositiveSmallIntegerField(
        choices=[
            (0, "Monday"),
            (1, "Tuesday"),
            (2, "Wednesday"),
            (3, "Thursday"),
            (4, "Friday"),
            (5, "Saturday"),
            (6, "Sunday"),
        ]
    )
    opens_at = models.TimeField()
    closes_at = models.TimeField()

    class Meta:
        verbose_name = "business hours"
        verbose_name_plural = "business hours"
        ordering = ["clinic", "weekday", "opens_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(closes_at__gt=models.F("opens_at")),
                name="businesshours_closes_after_opening",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens_at:%H:%M}-{self.closes_at:%H:%M}"


class ClinicClosure(models.Model):
    """A day the clinic is closed beyond public holidays (training day, move, storm)."""

    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.CASCADE, related_name="closures")
    date = models.DateField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "date"], name="closure_one_per_clinic_day"),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.reason}"


class OnCallShift(models.Model):
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.CASCADE, related_name="on_call")
    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()

    class Meta:
        verbose_name = "on-call shift"
        verbose_name_plural = "on-call shifts"
        indexes = [models.Index(fields=["clinic", "starts_at", "ends_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="oncall_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.clinician} on call {self.starts_at:%Y-%m-%d %H:%M}"


class AutoReplyTemplate(TimeStampedModel):
    """A clinic's own wording of an automatic reply, per language (defaults in code)."""

    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.CASCADE, related_name="auto_replies"
    )
    name = models.CharField(max_length=64)
    language = models.CharField(max_length=16, default="en")
    body = models.TextField()

    class Meta:
        verbose_name = "auto-reply template"
        verbose_name_plural = "auto-reply templates"
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "name", "language"], name="autoreply_one_per_name_language"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"


class Notification(models.Model):
    """An alert or notice to staff, made once: the unique key (work item, kind, window,
    recipient) lets concurrent sweepers and task re-runs insert it without checking."""

    class Kind(models.TextChoices):
        ON_CALL_ALERT = "on_call_alert", "On-call alert"
        SLA_ESCALATION = "sla_escalation", "SLA escalation"
        RULE_NOTICE = "rule_notice", "Rule notice"
        REPLY_UNDELIVERED = "reply_undelivered", "Reply not delivered"
        AFTER_HOURS_ALERT = "after_hours_alert", "After-hours urgent alert"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    work_item = models.ForeignKey(WorkItem, on_delete=models.PROTECT, related_name="notifications")
    kind = models.CharField(max_length=32, choices=Kind)
    # Which repeat this is: emergent alerts repeat every 15 minutes until claimed. For a
    # reply that was not delivered, the reply's id: one alert per reply.
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


class ScopeGrant(models.Model):
    """A clinic's widening of the default scope of practice (routing/scope.py): lets one
    role take an action it may not by default on items of one service level and acuity,
    e.g. an LVN working as MA closing urgent MA items. Changes are in the admin's log."""

    class Action(models.TextChoices):
        CLAIM = "claim", "Claim"
        REPLY = "reply", "Reply to the patient"
        CLOSE = "close", "Close"

    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=16, choices=Role)
    action = models.CharField(max_length=16, choices=Action)
    service_level = models.CharField(max_length=16, choices=ServiceLevel.choices)
    acuity = models.CharField(max_length=16, choices=Acuity.choices)
    reason = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "scope of practice grant"
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "role", "action", "service_level", "acuity"],
                name="scopegrant_once_per_case",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} may {self.action} {self.acuity} {self.service_level} items"
