from django.db import models

from triage.ml.labels import Acuity, ServiceLevel


class ModelVersion(models.Model):
    """A trained triage model. The artifact lives in the database so every worker on
    every machine loads the same bytes; sha256 guards against a corrupted artifact."""

    name = models.CharField(max_length=100)
    artifact = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    training_data_hash = models.CharField(max_length=64)
    metrics = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=models.Q(is_active=True),
                name="modelversion_one_active",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Classification(models.Model):
    message = models.OneToOneField(
        "inbox.Message", on_delete=models.PROTECT, related_name="classification"
    )
    acuity = models.CharField(max_length=16, choices=Acuity.choices)
    service_level = models.CharField(max_length=16, choices=ServiceLevel.choices)
    # The role queue it is routed to: service_level, or a more trained role when the
    # model was unsure (never a less trained one).
    routing_service_level = models.CharField(max_length=16, choices=ServiceLevel.choices)
    evisit_candidate = models.BooleanField()
    acuity_confidence = models.FloatField()
    service_level_confidence = models.FloatField()
    evisit_confidence = models.FloatField()
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    red_flags = models.JSONField(default=list, blank=True)
    # True when the classifier failed: the message went to nurse triage as urgent.
    unclassified = models.BooleanField(default=False)
    needs_review = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.acuity}/{self.service_level} for message {self.message_id}"


class LabelCorrection(models.Model):
    """Staff corrected a label (moved a message to another role, marked the acuity wrong,
    or marked it not an e-visit): a corrected label for training once reviewed."""

    class Label(models.TextChoices):
        ACUITY = "acuity", "Acuity"
        SERVICE_LEVEL = "service_level", "Service level"
        EVISIT_CANDIDATE = "evisit_candidate", "E-visit candidate"

    class ReviewStatus(models.TextChoices):
        # A correction teaches the model only after a second person agrees with it:
        # one tired click must not retrain the classifier.
        PROPOSED = "proposed", "Proposed"
        CONFIRMED = "confirmed", "Confirmed by a second staff member"
        ACCEPTED = "accepted", "Accepted by an administrator"
        REJECTED = "rejected", "Rejected"

    message = models.ForeignKey(
        "inbox.Message", on_delete=models.PROTECT, related_name="corrections"
    )
    label = models.CharField(max_length=32, choices=Label.choices)
    from_value = models.CharField(max_length=32)
    to_value = models.CharField(max_length=32)
    corrected_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    review_status = models.CharField(
        max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.PROPOSED
    )
    reviewed_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["review_status"], name="labelcorr_review_status")]

    def __str__(self) -> str:
        return f"{self.label} {self.from_value} → {self.to_value} on message {self.message_id}"


class ModelTraining(models.Model):
    """A request to train the default model because none is active (a new installation).
    The unique name is the gate: however many workers meet a missing model at once, one
    request is made and one slow-queue task trains it."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    name = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=16, choices=Status, default=Status.REQUESTED)
    requested_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    error = models.CharField(max_length=500, blank=True)
    # How far a running training is (step of total, and what it is doing), for the admin
    # page: a candidate's training takes about a minute.
    progress_step = models.PositiveSmallIntegerField(default=0)
    progress_total = models.PositiveSmallIntegerField(default=0)
    progress_note = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class ShadowPeriod(models.Model):
    """A candidate classifying every message beside the active model, without routing
    anything, from started_at until ends_at, or until ended_at when it was ended early
    (promoted). The version page compares the two over this period."""

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="shadow_periods"
    )
    started_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # True until the period is ended or found expired by the next start: with the
    # constraint below, two superusers starting shadows at once cannot both win.
    is_open = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["is_open"], condition=models.Q(is_open=True), name="shadow_one_open"
            ),
        ]

    def __str__(self) -> str:
        return f"shadow of {self.model_version} until {self.ends_at:%Y-%m-%d %H:%M}"


class ShadowClassification(models.Model):
    """What a candidate in shadow said about a message the active model classified.
    Never read by routing."""

    message = models.ForeignKey(
        "inbox.Message", on_delete=models.PROTECT, related_name="shadow_classifications"
    )
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    acuity = models.CharField(max_length=16, choices=Acuity.choices)
    service_level = models.CharField(max_length=16, choices=ServiceLevel.choices)
    evisit_candidate = models.BooleanField()
    # {"acuity": p, "service_level": p, "evisit_candidate": p}
    confidences = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # A redelivered classify_and_route must not store the shadow's answer twice.
            models.UniqueConstraint(
                fields=["model_version", "message"], name="shadowclassification_once"
            ),
        ]

    def __str__(self) -> str:
        return f"shadow {self.acuity}/{self.service_level} for message {self.message_id}"
