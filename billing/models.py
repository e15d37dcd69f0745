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
        "triage.Conversation", on_delete=models.PROTECT, related_name="time_entries"
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
