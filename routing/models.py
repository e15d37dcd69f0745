from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import Role
from config.models import TimeStampedModel
from triage.labels import Acuity, ServiceLevel


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
        "triage.Conversation", on_delete=models.PROTECT, related_name="work_items"
    )
    message = models.ForeignKey(
        "triage.Message", on_delete=models.PROTECT, related_name="work_items"
    )
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="work_items")
    status = models.CharField(max_length=16, choices=Status, default=Status.OPEN)
    acuity = models.CharField(max_length=16, choices=Acuity)
    acuity_rank = models.PositiveSmallIntegerField()  # 0 = emergent; sorts the queue page
    service_level = models.CharField(max_length=16, choices=ServiceLevel)
    due_at = models.DateTimeField()
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Why this item sits in this queue, shown to staff ("why is this here?").
    routing_reason = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"Work item {self.pk} ({self.acuity}, {self.status})"

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

    work_item = models.ForeignKey(WorkItem, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=32, choices=Kind)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    from_queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["work_item", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} on work item {self.work_item_id}"
