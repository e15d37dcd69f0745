import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from config.models import TimeStampedModel


class Role(models.TextChoices):
    CLERICAL = "clerical", "Clerical"
    MA = "ma", "Medical assistant"
    NURSE = "nurse", "Nurse"
    PHYSICIAN = "physician", "Physician / APP"
    BILLING = "billing", "Billing"
    ADMIN = "admin", "Administrator"


# The Django admin group of clinic administrators (made by migration 0004): permissions on
# the clinic configuration and the records; accounts.admin_scoping.ClinicScopedAdmin limits its
# members to the rows of the clinics where they hold Role.ADMIN.
CLINIC_ADMINISTRATORS_GROUP = "Clinic administrators"


def new_configuration_version() -> int:
    # Random, not a counter: a worker compares it for equality only, and a clinic made
    # again under a reused id (a test database rolled back) never matches a cached one.
    return secrets.randbits(62)


class Clinic(TimeStampedModel):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    time_zone = models.CharField(max_length=64, default="America/Los_Angeles")
    # Changed, in the same transaction, by every change to what routes or classifies its
    # messages (routing rules, queues, SLA policies, hours, closures, auto-replies,
    # webhooks, the active or shadow model): a worker keeps the configuration it read
    # while the clinic row it reads with each message still carries the same version
    # (accounts.configuration).
    configuration_version = models.BigIntegerField(default=new_configuration_version, db_default=0)

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    class AfterAction(models.TextChoices):
        NEXT_ITEM = "next_item", "Open the next item of the queue"
        STAY = "stay", "Stay on the item"

    clinics = models.ManyToManyField(Clinic, through="Membership", related_name="staff")
    # Opt-in: a sound and a browser notification (no message text: PHI on a lock screen)
    # when an emergent item lands in a queue this person works.
    emergent_arrival_alert = models.BooleanField(default=False)
    # Where the screen goes after closing, replying to or reassigning an item.
    after_action = models.CharField(max_length=16, choices=AfterAction, default="next_item")


class Membership(TimeStampedModel):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role)
    # Professional credential (MD, DO, NP, PA, RN, LPN, CMA...): decides e-visit codes.
    credential = models.CharField(max_length=16, blank=True)
    npi = models.CharField("NPI", max_length=10, blank=True)
    # Sees the clinic's operations dashboard (routing.operations: response times, backlog,
    # fairness; aggregates, no patient), whatever the role. Administrators see it anyway.
    is_manager = models.BooleanField(
        "manager",
        default=False,
        help_text="May see the clinic's operations dashboard (figures only, no messages).",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "clinic"], name="membership_one_role_per_clinic"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.clinic} · {self.role}"


class Absence(TimeStampedModel):
    """Out of office. Work held by the person goes to the covering person when one is
    named, else back to the role pool; either way the reason is recorded."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="absences")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    covering_user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="coverage"
    )
    reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        indexes = [models.Index(fields=["user", "starts_at", "ends_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="absence_ends_after_start"
            ),
            models.CheckConstraint(
                condition=~Q(covering_user=F("user")), name="absence_not_covering_oneself"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} away {self.starts_at:%Y-%m-%d} to {self.ends_at:%Y-%m-%d}"


class FailedSignIn(models.Model):
    """One refused password sign-in (/login/, /admin/login/, any `authenticate()` call),
    kept in the database because the web tier is many stateless processes. Recorded by
    accounts.signals, counted by accounts.selectors.sign_in_lockout; rows older than a day
    are deleted as new failures are recorded."""

    # As typed, NFKC-normalised and case-folded (accounts.lockout.normalise_username), so
    # "Alice" and "alice" count together, whether or not such a user exists.
    username = models.CharField(max_length=150)
    ip_address = models.GenericIPAddressField("IP address", null=True, blank=True)
    attempted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "failed sign-in"
        verbose_name_plural = "failed sign-ins"
        indexes = [
            # sign_in_lockout: the latest failures of one username, and of one address.
            models.Index(fields=["username", "-attempted_at"], name="failedsignin_by_username"),
            models.Index(fields=["ip_address", "-attempted_at"], name="failedsignin_by_address"),
            # record_failed_sign_in prunes old rows on every failure.
            models.Index(fields=["attempted_at"], name="failedsignin_by_time"),
        ]

    def __str__(self) -> str:
        return f"{self.username} from {self.ip_address or 'unknown address'}"


class Integration(TimeStampedModel):
    """A system that talks to the app for one clinic: the patient portal or the EHR. It
    acts through its own account (`account`, no password, no membership: it cannot sign
    in to the screens or work a queue) and that account's API tokens. Only an integration
    may post patients' messages, collect the replies and confirm their delivery."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="integrations")
    name = models.CharField(max_length=100, help_text="e.g. Patient portal, Epic EHR")
    account = models.OneToOneField(
        User, on_delete=models.PROTECT, related_name="integration", editable=False
    )
    # Off: the patient's name, birth date, language, phone and flags sent with a message
    # fill only what the clinic has not recorded; a differing value is kept aside, not
    # applied (inbox.PatientChange). On: this system is where the clinic keeps them.
    demographics_source = models.BooleanField(
        "source of truth for patient demographics",
        default=False,
        help_text="On only for the system where the clinic maintains patient records "
        "(usually the EHR): its values then overwrite the stored ones.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "name"], name="integration_name_per_clinic")
        ]

    def __str__(self) -> str:
        return f"{self.name} · {self.clinic}"


class ApiToken(models.Model):
    """A bearer token for the REST API: a staff member's own, or an integration's (then
    `user` is the integration's account). Only a SHA-256 digest is stored; the token is
    shown once, when it is made (accounts.services.issue_api_token)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, help_text="What the token is for.")
    # What the token may do (accounts.scopes.Scope names); checked on every API request by
    # accounts.permissions.TokenScope. Empty: nothing.
    scopes = models.JSONField(default=list, blank=True)
    # The first characters, so people can tell their tokens apart without the secret.
    prefix = models.CharField(max_length=12, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API token"
        verbose_name_plural = "API tokens"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or self.user})"
