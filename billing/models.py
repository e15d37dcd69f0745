from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import Role


class TimeEntry(models.Model):
    """Time one person spent on one conversation, with their role and credential at that
    time (what they were when they did the work decides how it may be billed)."""

    class Source(models.TextChoices):
        TIMER = "timer", "Timer"
        MANUAL = "manual", "Manual minutes"
        API = "api", "API"

    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    conversation = models.ForeignKey(
        "inbox.Conversation", on_delete=models.PROTECT, related_name="time_entries"
    )
    work_item = models.ForeignKey(
        "routing.WorkItem",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="time_entries",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="time_entries"
    )
    role = models.CharField(max_length=16, choices=Role)
    credential = models.CharField(max_length=16, blank=True)
    source = models.CharField(max_length=16, choices=Source)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)  # null while a timer runs
    seconds = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "time entries"
        indexes = [models.Index(fields=["conversation", "started_at"])]
        constraints = [
            # One running timer per person per conversation.
            models.UniqueConstraint(
                fields=["user", "conversation"],
                condition=Q(ended_at__isnull=True),
                name="timeentry_one_running_timer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.seconds // 60} min on conversation {self.conversation_id}"

    @property
    def minutes(self) -> float:
        return round(self.seconds / 60, 1)


class PatientVisit(models.Model):
    """A visit of the patient in the practice (from the EHR): an E/M visit, or a
    procedure with its surgical global period. Decides established status and the 7-day
    rules of e-visits."""

    class Kind(models.TextChoices):
        EM = "em", "E/M visit"
        PROCEDURE = "procedure", "Procedure (global period)"

    patient = models.ForeignKey("inbox.Patient", on_delete=models.PROTECT, related_name="visits")
    on = models.DateField()
    kind = models.CharField(max_length=16, choices=Kind, default=Kind.EM)
    global_period_days = models.PositiveSmallIntegerField(default=0)
    problem = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [models.Index(fields=["patient", "on"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.on}"


class FeeSchedule(models.Model):
    """What a code pays, optionally per payer, over a date range; billing admins edit it."""

    code = models.CharField(max_length=5)
    payer = models.CharField(max_length=100, blank=True)  # blank: the default schedule
    amount = models.DecimalField(max_digits=8, decimal_places=2)
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["code", "payer", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["code", "payer", "effective_from"], name="fee_one_per_code_payer_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.payer or 'default'} ${self.amount} from {self.effective_from}"


class ClaimExport(models.Model):
    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        FHIR = "fhir", "FHIR R4 ChargeItem bundle"

    format = models.CharField(max_length=8, choices=Format)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)
    claims = models.PositiveIntegerField(default=0)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    content = models.TextField()  # kept, so the same file can be downloaded again

    def __str__(self) -> str:
        return f"Export {self.pk} ({self.claims} claims)"


class EVisit(models.Model):
    """The e-visit status of one conversation, recomputed whenever its time or the
    patient's visits change, until someone approves or rejects it."""

    class Status(models.TextChoices):
        NOT_BILLABLE = "not_billable", "Not billable"
        CANDIDATE = "candidate", "Candidate (7-day window open)"
        READY = "ready", "Ready for review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        EXPORTED = "exported", "Exported"

    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    conversation = models.OneToOneField(
        "inbox.Conversation", on_delete=models.PROTECT, related_name="evisit"
    )
    status = models.CharField(max_length=16, choices=Status, default=Status.NOT_BILLABLE)
    code = models.CharField(max_length=5, blank=True)
    minutes = models.PositiveIntegerField(default=0)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    # The date of service: window_start's date on the clinic's calendar (its time zone),
    # not UTC's: a 21:30 review in Pasadena on 4 December is 05:30 UTC on the 5th.
    service_date = models.DateField(null=True, blank=True)
    rendering_clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reasons = models.JSONField(default=list, blank=True)
    explanation = models.JSONField(default=list, blank=True)
    needs_consent = models.BooleanField(default=False)
    amount = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    decision_reason = models.CharField(max_length=300, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    export = models.ForeignKey(
        ClaimExport, null=True, blank=True, on_delete=models.PROTECT, related_name="evisits"
    )
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "e-visit"
        verbose_name_plural = "e-visits"
        indexes = [
            models.Index(fields=["clinic", "status", "window_start"]),
            # The e-visit list (billing.selectors.evisit_list): a clinic's newest first,
            # read backwards and cut at the list's limit instead of sorting the history.
            models.Index(fields=["clinic", "window_start", "id"], name="evisit_by_clinic_newest"),
        ]
        constraints = [
            # An exported claim always names its export: what makes "never twice" checkable.
            models.CheckConstraint(
                condition=~Q(status="exported") | Q(export__isnull=False),
                name="evisit_exported_has_export",
            ),
        ]

    def __str__(self) -> str:
        return f"E-visit {self.code or '-'} ({self.status}) for conversation {self.conversation_id}"

    def save(self, *args, **kwargs) -> None:
        # Derived on every save, so no writer can store a UTC date of service.
        self.service_date = (
            self.window_start.astimezone(ZoneInfo(self.clinic.time_zone)).date()
            if self.window_start
            else None
        )
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "window_start" in update_fields:
            kwargs["update_fields"] = {*update_fields, "service_date"}
        super().save(*args, **kwargs)


class BillingAuditEvent(models.Model):
    """Every approval, rejection and export: who, when, what."""

    class Action(models.TextChoices):
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        EXPORTED = "exported", "Exported"
        VOIDED = "voided", "Approval voided by a recomputation"

    action = models.CharField(max_length=16, choices=Action)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    evisit = models.ForeignKey(EVisit, null=True, blank=True, on_delete=models.PROTECT)
    export = models.ForeignKey(ClaimExport, null=True, blank=True, on_delete=models.PROTECT)
    detail = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.action} by {self.actor} at {self.created_at:%Y-%m-%d %H:%M}"
