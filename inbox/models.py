"""A patient's messages and the replies to them: the message's life from receipt to
routing. Every write to these rows goes through inbox.services."""

from django.contrib.postgres.search import SearchVectorField
from django.db import models

from config.models import TimeStampedModel


class Patient(TimeStampedModel):
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="patients")
    mrn = models.CharField("MRN", max_length=64)
    name = models.CharField(max_length=200, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    # For a call back on urgent and emergent items: from the message or the EHR.
    phone = models.CharField(max_length=40, blank=True)
    preferred_language = models.CharField(max_length=16, default="en")
    on_chemotherapy = models.BooleanField(default=False)
    # Told that e-visits may be billed (cost-share notice) and agreed, and when.
    evisit_consent_at = models.DateTimeField("e-visit billing consent", null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "mrn"], name="patient_mrn_unique_per_clinic"),
        ]

    def __str__(self) -> str:
        return f"{self.name or 'Patient'} ({self.mrn})"

    def age_on(self, day) -> int | None:
        if self.birth_date is None:
            return None
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class Conversation(TimeStampedModel):
    """A thread: e-visit time and work items are per conversation, not per message."""

    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="conversations"
    )
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="conversations")
    external_id = models.CharField(max_length=128)
    subject = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "external_id"], name="conversation_external_id_unique_per_clinic"
            ),
        ]


class Message(TimeStampedModel):
    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        CLASSIFIED = "classified", "Classified"
        ROUTED = "routed", "Routed"
        # History loaded by `import_messages --no-route`: stored, never classified, routed
        # or announced, so neither the stuck-message sweep nor the unrouted alert takes it.
        IMPORTED = "imported", "Imported (history, not routed)"

    # The statuses of a message the pipeline still owes a routing: what the sweep, the
    # unrouted alert and the readiness check look at (and their partial indexes hold).
    AWAITING_ROUTING = ("received", "classified")

    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="messages")
    conversation = models.ForeignKey(
        Conversation, on_delete=models.PROTECT, related_name="messages"
    )
    # The portal's id: posting the same one twice must not make a second message.
    external_id = models.CharField(max_length=128)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField()
    category = models.CharField("patient-chosen category", max_length=64, blank=True)
    sent_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status, default=Status.RECEIVED)
    status_changed_at = models.DateTimeField(auto_now_add=True)
    # When the stuck-message sweep last enqueued it: the gate that keeps a backed-up
    # broker at one copy per STUCK_REQUEUE_WINDOW_SECONDS (inbox.services.take_stuck_messages).
    requeued_at = models.DateTimeField(null=True, blank=True)
    # to_tsvector('simple', subject || ' ' || body), kept by a PostgreSQL trigger
    # (migration 0010_message_text_search); always empty on SQLite. Never written here.
    search_text = SearchVectorField(null=True, editable=False)

    class Meta:
        # Search (routing.search.matching_messages) reads a GIN index of search_text,
        # made on PostgreSQL only by migration 0010_message_text_search (SQLite has no
        # GIN), as is the GIN index of patients' names: not listed here.
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "external_id"], name="message_external_id_unique_per_clinic"
            ),
        ]
        indexes = [
            # The stuck-message sweep looks only at messages that have not been routed yet.
            models.Index(
                fields=["status_changed_at"],
                condition=models.Q(status__in=["received", "classified"]),
                name="message_not_routed",
            ),
            # The unrouted alert and the readiness check (routing.sweeps.alert_unrouted_messages,
            # pipeline.health): the oldest stored message not routed yet.
            models.Index(
                fields=["created_at"],
                condition=models.Q(status__in=["received", "classified"]),
                name="message_unrouted_by_age",
            ),
        ]

    def __str__(self) -> str:
        return f"Message {self.pk} ({self.status})"


class OutgoingMessage(models.Model):
    """A message to the patient: the emergency auto-reply or a staff reply. Stored first,
    in the outbox the portal collects from (GET /api/v1/outgoing-messages); the portal's
    confirmation sets delivered_at."""

    class Kind(models.TextChoices):
        AUTO_REPLY = "auto_reply", "Automatic reply"
        STAFF_REPLY = "staff_reply", "Staff reply"

    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    conversation = models.ForeignKey(
        Conversation, on_delete=models.PROTECT, related_name="outgoing_messages"
    )
    in_reply_to = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.PROTECT, related_name="replies"
    )
    kind = models.CharField(max_length=16, choices=Kind)
    template = models.CharField(max_length=64, blank=True)
    language = models.CharField(max_length=16, default="en")
    body = models.TextField()
    author = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # One automatic reply of each template per patient message, however many times
            # routing runs.
            models.UniqueConstraint(
                fields=["in_reply_to", "template"],
                condition=models.Q(kind="auto_reply"),
                name="outgoing_one_auto_reply_per_message_template",
            ),
        ]
        indexes = [
            # The outbox (inbox.selectors.undelivered_replies): a clinic's undelivered
            # replies in id order; delivered ones leave it, so it stays small.
            models.Index(
                fields=["clinic", "id"],
                condition=models.Q(delivered_at__isnull=True),
                name="outgoing_undelivered_by_clinic",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} in conversation {self.conversation_id}"


class PatientDataAccess(models.Model):
    """Who looked at a patient's messages or billing record, and when: the access log a
    clinic's privacy officer is asked for. Written when a page, an API answer, an export
    or an admin page shows the data (lists and exports: one row per patient per
    request); never edited."""

    class What(models.TextChoices):
        MESSAGE_THREAD = "message_thread", "Message thread"
        EVISIT_RECORD = "evisit_record", "E-visit billing record"
        QUEUE_LIST = "queue_list", "Queue list (names, subjects, text preview)"
        SEARCH_RESULTS = "search_results", "Search results (names, MRNs, subjects, text preview)"
        QUEUE_LIST_API = "queue_list_api", "Queue list via API (subjects)"
        PATIENT_CONTEXT = "patient_context", "Patient context (earlier conversations)"
        PENDING_LIST = "pending_list", "Pending list (names and subjects)"
        MESSAGE_API = "message_api", "Message via API (text)"
        MESSAGE_LIST_API = "message_list_api", "Conversation's messages via API (text)"
        WORK_ITEM_API = "work_item_api", "Work item via API (message text)"
        EVISIT_RECORD_API = "evisit_record_api", "E-visit billing record via API"
        EVISIT_LIST = "evisit_list", "E-visit billing list"
        EVISIT_LIST_API = "evisit_list_api", "E-visit billing list via API"
        CLAIMS_EXPORT = "claims_export", "Claims export file (CSV or FHIR)"
        PORTAL_REPLIES = "portal_replies", "Replies collected by the patient portal"
        ADMIN_VISIT_LIST = "admin_visit_list", "Admin: patient visit list"
        ADMIN_VISIT = "admin_visit", "Admin: patient visit page"
        ADMIN_CLAIMS_EXPORT = "admin_claims_export", "Admin: claims export page (file content)"
        ADMIN_ACCESS_LOG_LIST = "admin_access_log_list", "Admin: access log list"
        ADMIN_ACCESS_LOG_ENTRY = "admin_access_log_entry", "Admin: access log entry page"
        ADMIN_PATIENT_LIST = "admin_patient_list", "Admin: patient list (look-up)"
        ADMIN_PATIENT = "admin_patient", "Admin: patient page"
        ADMIN_PATIENT_CHANGES = "admin_patient_changes", "Admin: patient detail changes"
        ADMIN_CORRECTIONS_EXPORT = (
            "admin_corrections_export",
            "Admin: label corrections export with message text",
        )

    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="accesses")
    user = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    what = models.CharField(max_length=32, choices=What)
    # What was shown, by `what`: the work item (message thread, queue lists), the
    # e-visit (record, lists), the staff reply (portal replies), the claims export
    # (export file, admin export page), the patient visit (admin visit pages) or the
    # access log entry (admin access log pages). A list shows a patient's first item on
    # the page; an export names the export, whose file is kept (ClaimExport.content), so
    # the privacy officer can see exactly what left with it and who else was in it.
    object_id = models.BigIntegerField()
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "patient data access"
        verbose_name_plural = "patient data access log"
        indexes = [
            models.Index(fields=["patient", "at"], name="access_by_patient"),
            models.Index(fields=["user", "at"], name="access_by_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} viewed {self.what} of patient {self.patient_id}"


class PatientChange(models.Model):
    """A patient detail an integration sent that differs from the stored one: applied when
    the integration is the clinic's source of truth for demographics, else kept aside for
    the clinic to check (a portal's typo must not rewrite a chart or clear a flag the
    red-flag layer reads). Never edited."""

    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="changes")
    integration = models.ForeignKey(
        "accounts.Integration", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    field = models.CharField(max_length=32)
    old_value = models.CharField(max_length=200, blank=True)
    new_value = models.CharField(max_length=200, blank=True)
    applied = models.BooleanField()
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "patient detail change"
        indexes = [models.Index(fields=["patient", "at"], name="patientchange_by_patient")]

    def __str__(self) -> str:
        state = "applied" if self.applied else "not applied"
        return f"{self.field} of {self.patient} ({state})"
