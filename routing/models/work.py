"""Queues, work items and their events: the work itself."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import Role
from config.models import TimeStampedModel
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
    # Facts for the operations dashboard (routing.operations), each set once by
    # routing.work_items and never cleared, not even by a reopen: the first time someone
    # who may act on the item (claim or reply, by the scope of practice) opened or claimed
    # it, and the first reply sent to the patient.
    first_read_at = models.DateTimeField(null=True, blank=True)
    first_read_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    first_response_at = models.DateTimeField(null=True, blank=True)
    first_response_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # The role the responder held in the clinic when answering ("who answered": a
    # membership may change later, the answer does not).
    first_response_role = models.CharField(max_length=16, choices=Role, blank=True)

    class PendEvent(models.TextChoices):
        RESULT = "result", "Result back"
        CALLBACK = "callback", "Patient callback"

    # Database defaults on the new columns: an application version from before them,
    # still running during a deploy, and set-based SQL (bench/) insert without them.
    # Pending (routing.pending): while pended_until is set the item is out of the active
    # lists (the pools filter on it) and comes back at that time at the latest (the beat
    # sweep routing.pending.return_due_items); an event pend comes back earlier when a
    # person marks the event happened or the patient writes again. Pending releases the
    # hold, so a pended item is always status "open" and the partial indexes on status
    # stay as they are.
    pended_until = models.DateTimeField(null=True, blank=True)
    pend_event = models.CharField(max_length=16, choices=PendEvent, blank=True, db_default="")
    pend_reason = models.CharField(max_length=500, blank=True, db_default="")
    pended_at = models.DateTimeField(null=True, blank=True)
    pended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # The clinic's policy when it was pended (ClinicRouting.pause_sla_while_pending): the
    # SLA sweep skips these, and the due time moves later by the pended time on return.
    pend_pauses_sla = models.BooleanField(default=False, db_default=False)

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
            # small as history grows; pended ones are out of the pool (routing.pending).
            models.Index(
                fields=["queue", "acuity_rank", "due_at", "id"],
                condition=Q(status="open", pended_until=None),
                name="workitem_open_by_queue",
            ),
            # The work-items API (routing.selectors.readable_work_items): a clinic's open
            # and claimed work in queue order. Its predicate is the API's default filter
            # word for word, or PostgreSQL cannot prove the index holds every row it wants
            # and sorts every open item instead (1.5 s at 1,000,000).
            models.Index(
                fields=["clinic", "acuity_rank", "due_at", "id"],
                condition=Q(status__in=["open", "claimed"]),
                name="workitem_unanswered_by_clinic",
            ),
            # My work (routing.selectors.my_work_page and my_work_counts): the items one
            # person holds in a clinic, in queue order; each count a capped range of it.
            # Someone may hold 100,000 (an absence reassigned to them): without it their
            # counts read every one and their page walks the clinic's unanswered work.
            models.Index(
                fields=["claimed_by", "clinic", "acuity_rank", "due_at", "id"],
                condition=Q(status="claimed"),
                name="workitem_held_by_person",
            ),
            # The operations dashboard (routing.operations): a clinic's items by receipt.
            models.Index(fields=["clinic", "created_at"], name="workitem_by_clinic_received"),
            # Pending (routing.pending): the return sweep and the pending lists.
            models.Index(
                fields=["pended_until"],
                condition=Q(pended_until__isnull=False),
                name="workitem_pended_by_return",
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
        PENDED = "pended", "Pended"
        UNPENDED = "unpended", "Back from pending"

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
