"""The SLA policy admin lists the built-in targets and the one in effect per acuity and
role (routing/sla_overview.py), so a clinic without policies of its own no longer sees
just "0 SLA policies"."""

import pytest
from django.contrib.auth.models import Group

from accounts.models import CLINIC_ADMINISTRATORS_GROUP, Role
from routing import sla_overview
from routing.models import SlaPolicy
from tests.accounts.factories import ClinicFactory, StaffFactory

pytestmark = pytest.mark.django_db

POLICIES = "/admin/routing/slapolicy/"


@pytest.fixture
def clinic():
    return ClinicFactory(name="Oncology - Pasadena")


@pytest.fixture
def admin_client(client, clinic):
    user = StaffFactory(clinic=clinic, role=Role.ADMIN, is_staff=True)
    user.groups.add(Group.objects.get(name=CLINIC_ADMINISTRATORS_GROUP))
    client.force_login(user)
    return client


def test_without_policies_the_list_shows_the_built_in_targets(admin_client):
    page = admin_client.get(POLICIES).content.decode()

    assert "0 SLA policies" in page
    assert "sla policys" not in page.lower()
    assert "no policy of its own, the built-in targets apply" in page
    assert "Built-in targets" in page
    for described in (
        "15 min, wall clock",
        "240 business min",
        "3 business days",
        "2 business days",
    ):
        assert described in page


def test_an_override_is_shown_beside_the_defaults_it_replaces(clinic):
    SlaPolicy.objects.create(
        clinic=clinic, acuity="urgent", role="", clock="business_minutes", amount=120
    )
    SlaPolicy.objects.create(
        clinic=clinic, acuity="routine", role="nurse", clock="business_days", amount=1
    )

    (entry,) = sla_overview.effective_targets(clinics=type(clinic).objects.filter(pk=clinic.pk))

    by_key = {(t.acuity, t.role): t for t in entry.targets}
    assert len(by_key) == 12
    assert by_key[("urgent", "physician")].target.amount == 120
    assert by_key[("urgent", "physician")].source == "This clinic's policy (any role)"
    assert by_key[("routine", "nurse")].source == "This clinic's policy (this role)"
    assert by_key[("routine", "clerical")].target.describe() == "2 business days"
    assert by_key[("routine", "clerical")].source == "Built-in default"
    assert by_key[("emergent", "nurse")].target.describe() == "15 min, wall clock"
    assert entry.overrides == 2


def test_the_page_names_the_clinics_override_with_a_link(admin_client, clinic):
    policy = SlaPolicy.objects.create(
        clinic=clinic, acuity="urgent", role="", clock="business_minutes", amount=120
    )
    page = admin_client.get(POLICIES).content.decode()
    assert "1 policy of this clinic, built-in targets for the rest" in page
    assert f"/admin/routing/slapolicy/{policy.pk}/change/" in page
    assert "120 business min" in page


def test_another_clinics_targets_are_not_listed(admin_client):
    ClinicFactory(name="Cardiology - Boston")
    page = admin_client.get(POLICIES).content.decode()
    assert "Cardiology - Boston" not in page
