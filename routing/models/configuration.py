"""A clinic's routing configuration: rules, SLA policies, calendars, on-call shifts,
auto-reply wording and scope of practice grants."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Membership, Role
from config.models import TimeStampedModel
from routing import rules as routing_rules
from routing.models.work import Queue
from routing.sla import Clock
from triage.ml.labels import Acuity, ServiceLevel


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
    # The office line quick replies give the patient as {clinic_phone} (routing.quick_replies).
    office_phone = models.CharField(
        "clinic phone", max_length=40, blank=True, default="", db_default=""
    )
    alert_on_call_for_after_hours_urgent = models.BooleanField(
        "alert the on-call nurse for urgent messages after hours", default=False
    )
    # Off: a pended item's SLA clock keeps running. On: it stops while pending (the SLA
    # sweep skips the item) and the due time moves later by the pended time on return.
    pause_sla_while_pending = models.BooleanField(
        "pause the response clock while an item is pending", default=False, db_default=False
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
        if self.starts_at is None:
            return f"{self.clinician} on call"
        # In the active zone, named: the admin runs in the clinic's (accounts/admin_time.py).
        return f"{self.clinician} on call {timezone.localtime(self.starts_at):%Y-%m-%d %H:%M %Z}"


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
