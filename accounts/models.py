from django.contrib.auth.models import AbstractUser
from django.db import models

from config.models import TimeStampedModel


class Role(models.TextChoices):
    CLERICAL = "clerical", "Clerical"
    MA = "ma", "Medical assistant"
    NURSE = "nurse", "Nurse"
    PHYSICIAN = "physician", "Physician / APP"
    BILLING = "billing", "Billing"
    ADMIN = "admin", "Administrator"


class Clinic(TimeStampedModel):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    time_zone = models.CharField(max_length=64, default="America/Los_Angeles")

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    clinics = models.ManyToManyField(Clinic, through="Membership", related_name="staff")


class Membership(TimeStampedModel):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "clinic"], name="membership_one_role_per_clinic"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.clinic} · {self.role}"
