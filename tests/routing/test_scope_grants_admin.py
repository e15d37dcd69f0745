"""A clinic administrator widens the scope of practice of their own clinic in the admin
(routing.ScopeGrant), and the admin log records who changed what."""

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import Group

from accounts.models import CLINIC_ADMINISTRATORS_GROUP, Role
from routing.models import ScopeGrant
from tests.accounts.factories import ClinicFactory, StaffFactory

pytestmark = pytest.mark.django_db

GRANTS = "/admin/routing/scopegrant/"


def grant_form(clinic, **changes) -> dict:
    return {
        "clinic": clinic.pk,
        "role": Role.MA,
        "action": "close",
        "service_level": "ma",
        "acuity": "urgent",
        "reason": "Our MAs are LVNs",
    } | changes


@pytest.fixture
def clinics():
    return ClinicFactory(), ClinicFactory()


@pytest.fixture
def administrator(clinics):
    user = StaffFactory(clinic=clinics[0], role=Role.ADMIN, is_staff=True)
    user.groups.add(Group.objects.get(name=CLINIC_ADMINISTRATORS_GROUP))
    return user


def test_the_clinic_administrators_group_may_manage_scope_grants():
    codenames = set(
        Group.objects.get(name=CLINIC_ADMINISTRATORS_GROUP)
        .permissions.filter(content_type__app_label="routing", content_type__model="scopegrant")
        .values_list("codename", flat=True)
    )
    assert codenames == {
        "view_scopegrant",
        "add_scopegrant",
        "change_scopegrant",
        "delete_scopegrant",
    }


def test_an_administrator_adds_a_grant_for_their_clinic_and_it_is_logged(
    client, clinics, administrator
):
    ours, _ = clinics
    client.force_login(administrator)

    response = client.post(f"{GRANTS}add/", grant_form(ours))

    assert response.status_code == 302, response.content.decode()[:2000]
    grant = ScopeGrant.objects.get()
    assert (grant.clinic, grant.role, grant.action, grant.acuity) == (ours, "ma", "close", "urgent")
    entry = LogEntry.objects.get()
    assert (entry.user, entry.action_flag, entry.object_id) == (
        administrator,
        ADDITION,
        str(grant.pk),
    )


def test_an_administrator_sees_and_saves_only_their_clinics_grants(client, clinics, administrator):
    ours, theirs = clinics
    mine = ScopeGrant.objects.create(**(grant_form(ours) | {"clinic": ours}))
    other = ScopeGrant.objects.create(**(grant_form(theirs) | {"clinic": theirs}))
    client.force_login(administrator)

    listed = set(client.get(GRANTS).context["cl"].queryset.values_list("pk", flat=True))
    refused = client.post(f"{GRANTS}add/", grant_form(theirs, action="reply"))

    assert listed == {mine.pk}
    assert client.get(f"{GRANTS}{other.pk}/change/").status_code == 302  # not found
    assert refused.status_code == 200  # the form does not offer another clinic
    assert not ScopeGrant.objects.filter(clinic=theirs, action="reply").exists()
