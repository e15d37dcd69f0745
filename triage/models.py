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
    """Staff moved a message to another role or acuity: a corrected label for training."""

    message = models.ForeignKey(
        "inbox.Message", on_delete=models.PROTECT, related_name="corrections"
    )
    label = models.CharField(max_length=32)  # service_level | acuity
    from_value = models.CharField(max_length=32)
    to_value = models.CharField(max_length=32)
    corrected_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

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

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"
