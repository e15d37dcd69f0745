import factory
from django.utils import timezone

from accounts.models import Clinic, FailedSignIn, Integration, Membership, Role, User
from accounts.services import new_integration_account


class ClinicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clinic

    name = factory.Sequence(lambda n: f"Clinic {n}")
    slug = factory.Sequence(lambda n: f"clinic-{n}")
    time_zone = "America/Los_Angeles"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@clinic.test")

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        # Saved, so a session's password hash matches the stored user.
        obj.set_password(extracted or "correct horse battery")
        if create:
            obj.save(update_fields=["password"])


class StaffFactory(UserFactory):
    """A user with a membership: StaffFactory(clinic=..., role=Role.NURSE)."""

    class Params:
        clinic = factory.SubFactory(ClinicFactory)
        role = Role.NURSE

    membership = factory.RelatedFactory(
        "tests.accounts.factories.MembershipFactory",
        factory_related_name="user",
        clinic=factory.SelfAttribute("..clinic"),
        role=factory.SelfAttribute("..role"),
    )


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    clinic = factory.SubFactory(ClinicFactory)
    role = Role.NURSE


class FailedSignInFactory(factory.django.DjangoModelFactory):
    """A recorded failure (stored normalised, as accounts.services records it)."""

    class Meta:
        model = FailedSignIn

    username = factory.Sequence(lambda n: f"user{n}")
    ip_address = "192.0.2.10"
    attempted_at = factory.LazyFunction(timezone.now)


class IntegrationFactory(factory.django.DjangoModelFactory):
    """The clinic's portal (or EHR): IntegrationFactory(clinic=...); post as
    `client_for(integration.account)` or with a token from accounts.services."""

    class Meta:
        model = Integration

    clinic = factory.SubFactory(ClinicFactory)
    name = factory.Sequence(lambda n: f"Patient portal {n}")
    demographics_source = False
    account = factory.LazyAttribute(lambda o: new_integration_account(clinic=o.clinic, name=o.name))
