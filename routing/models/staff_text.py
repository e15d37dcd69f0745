"""Text staff write for each other or start a reply from: a clinic's quick replies and
the internal notes on a work item. Neither is ever an OutgoingMessage: nothing here
reaches the patient portal."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from accounts.models import Role
from config.models import TimeStampedModel
from routing.quick_replies import LANGUAGES, placeholder_problem

# The roles that answer patients; a quick reply is for one of them or for all ("").
REPLYING_ROLES = [
    (Role.CLERICAL.value, Role.CLERICAL.label),
    (Role.MA.value, Role.MA.label),
    (Role.NURSE.value, Role.NURSE.label),
    (Role.PHYSICIAN.value, Role.PHYSICIAN.label),
]


class QuickReply(TimeStampedModel):
    """A clinic's own reply wording, for one role or every role, in one language, with
    placeholders (routing.quick_replies). Shown beside the built-in ones; a person picks
    it, edits it and sends it."""

    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.CASCADE, related_name="quick_replies"
    )
    title = models.CharField(max_length=80)
    role = models.CharField(
        max_length=16,
        choices=REPLYING_ROLES,
        blank=True,
        help_text="Leave blank to offer it to every role of the clinic.",
    )
    language = models.CharField(max_length=8, choices=list(LANGUAGES.items()), default="en")
    body = models.TextField(
        max_length=4000,
        help_text="Placeholders: {patient_first_name}, {clinic_phone}, {staff_name}.",
    )
    active = models.BooleanField(default=True)

    class Meta:
        verbose_name = "quick reply"
        verbose_name_plural = "quick replies"
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "title", "language", "role"],
                name="quickreply_one_per_title_language_role",
            ),
            models.CheckConstraint(
                condition=Q(role__in=["", *[value for value, _ in REPLYING_ROLES]]),
                name="quickreply_role_answers_patients",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.language})"

    def clean(self) -> None:
        problem = placeholder_problem(self.body or "")
        if problem:
            raise ValidationError({"body": problem})


class InternalNote(models.Model):
    """A note to colleagues on a work item: kept in the conversation's history, shown on
    the item's page apart from the replies, never sent to the patient (no outbox row, no
    webhook)."""

    work_item = models.ForeignKey(
        "routing.WorkItem", on_delete=models.PROTECT, related_name="internal_notes"
    )
    conversation = models.ForeignKey(
        "inbox.Conversation", on_delete=models.PROTECT, related_name="internal_notes"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # routing.notes.notes_of_conversation: a conversation's notes, oldest first.
        indexes = [models.Index(fields=["conversation", "created_at"], name="note_by_conversation")]

    def __str__(self) -> str:
        return f"Note on work item {self.work_item_id}"
