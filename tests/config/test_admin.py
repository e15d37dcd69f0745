"""The Django admin shows a clinic administrator (staff, in the "Clinic administrators"
group, not a superuser) only the clinics where they hold Role.ADMIN: lists, object
pages, form choices and saves. Superusers see every clinic; users, clinics and the fee
schedule are theirs alone."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from accounts.models import CLINIC_ADMINISTRATORS_GROUP, Clinic, Role
from billing.models import ClaimExport, EVisit, PatientVisit
from inbox.models import Patient, PatientDataAccess
from routing.models import Queue, RoutingRule, WorkItem
from tests.accounts.factories import ClinicFactory, StaffFactory, UserFactory
from tests.inbox.factories import ConversationFactory
from tests.routing.factories import QueueFactory, RoutingRuleFactory, routed_item

pytestmark = pytest.mark.django_db

RULES = "/admin/routing/routingrule/"
VISITS = "/admin/billing/patientvisit/"


@dataclass
class Rows:
    """One of each row an administrator looks at, all of one clinic."""

    clinic: Clinic
    queue: Queue
    rule: RoutingRule
    item: WorkItem
    patient: Patient
    visit: PatientVisit
    export: ClaimExport
    access: PatientDataAccess


def clinic_with_rows() -> Rows:
    clinic = ClinicFactory()
    queue = QueueFactory(clinic=clinic)
    item = routed_item(clinic)
    patient = item.conversation.patient
    visit = PatientVisit.objects.create(
        patient=patient, on=datetime.date(2026, 1, 5), kind=PatientVisit.Kind.EM
    )
    export = ClaimExport.objects.create(
        format=ClaimExport.Format.CSV,
        created_by=StaffFactory(clinic=clinic, role=Role.BILLING),
        claims=1,
        total=Decimal("31.00"),
        content=f"mrn\n{patient.mrn}\n",
    )
    EVisit.objects.create(
        clinic=clinic,
        conversation=ConversationFactory(patient=patient),
        status=EVisit.Status.EXPORTED,
        export=export,
        code="99422",
        minutes=12,
        amount=Decimal("31.00"),
        window_start=timezone.now() - datetime.timedelta(days=3),
    )
    access = PatientDataAccess.objects.create(
        clinic=clinic,
        patient=patient,
        user=StaffFactory(clinic=clinic),
        what=PatientDataAccess.What.MESSAGE_THREAD,
        object_id=item.pk,
    )
    rule = RoutingRuleFactory(clinic=clinic, action={"queue": queue.pk})
    return Rows(clinic, queue, rule, item, patient, visit, export, access)


@pytest.fixture
def ours() -> Rows:
    return clinic_with_rows()


@pytest.fixture
def theirs() -> Rows:
    return clinic_with_rows()


def in_group(user):
    user.groups.add(Group.objects.get(name=CLINIC_ADMINISTRATORS_GROUP))
    return user


@pytest.fixture
def administrator(ours):
    return in_group(StaffFactory(clinic=ours.clinic, role=Role.ADMIN, is_staff=True))


# (changelist, which row of a clinic it lists)
LISTS = [
    (RULES, "rule"),
    ("/admin/routing/queue/", "queue"),
    ("/admin/routing/workitem/", "item"),
    (VISITS, "visit"),
    ("/admin/billing/claimexport/", "export"),
    ("/admin/inbox/patientdataaccess/", "access"),
    ("/admin/inbox/patient/", "patient"),
]


def listed(client, url) -> set[int]:
    response = client.get(url)
    assert response.status_code == 200
    return set(response.context["cl"].queryset.values_list("pk", flat=True))


@pytest.mark.parametrize(("url", "row"), LISTS)
def test_an_administrator_lists_only_their_clinics_rows(
    client, ours, theirs, administrator, url, row
):
    client.force_login(administrator)

    shown = listed(client, url)

    assert getattr(ours, row).pk in shown
    assert getattr(theirs, row).pk not in shown


@pytest.mark.parametrize(("url", "row"), LISTS)
def test_another_clinics_object_is_not_found(client, ours, theirs, administrator, url, row):
    client.force_login(administrator)

    assert client.get(f"{url}{getattr(ours, row).pk}/change/").status_code == 200
    response = client.get(f"{url}{getattr(theirs, row).pk}/change/")

    assert response.status_code == 302  # "doesn't exist", back to the admin index
    assert response["Location"] == "/admin/"
    assert not PatientDataAccess.objects.filter(user=administrator, clinic=theirs.clinic).exists()


def test_an_administrator_of_both_clinics_sees_both(client, ours, theirs, administrator):
    administrator.memberships.create(clinic=theirs.clinic, role=Role.ADMIN)
    client.force_login(administrator)

    assert {ours.rule.pk, theirs.rule.pk} <= listed(client, RULES)


def test_a_superuser_sees_every_clinic(client, ours, theirs):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    for url, row in LISTS:
        assert {getattr(ours, row).pk, getattr(theirs, row).pk} <= listed(client, url)


def test_staff_without_an_admin_membership_see_nothing(client, ours, theirs):
    nurse = in_group(StaffFactory(clinic=ours.clinic, role=Role.NURSE, is_staff=True))
    client.force_login(nurse)

    for url, _row in LISTS:
        assert listed(client, url) == set()
    index = client.get("/admin/")
    assert index.context["app_list"] == []
    assert "Routing rules" not in index.text


def test_an_administrator_sees_the_clinic_configuration_on_the_admin_index(client, administrator):
    client.force_login(administrator)

    apps = {app["app_label"] for app in client.get("/admin/").context["app_list"]}

    assert {"routing", "billing", "inbox"} <= apps


def rule_form(rows: Rows, **changes) -> dict:
    form = {
        "clinic": rows.clinic.pk,
        "name": "Refills to the pool",
        "order": 5,
        "enabled": "on",
        "then_queue": str(rows.queue.pk),  # the rule form's queue drop-down
    }
    return form | changes


def test_a_rule_cannot_be_saved_for_another_clinic_or_its_queue(
    client, ours, theirs, administrator
):
    client.force_login(administrator)
    before = RoutingRule.objects.count()

    for form in (
        rule_form(theirs),  # their clinic, their queue
        rule_form(ours, then_queue=str(theirs.queue.pk)),  # our rule, their queue
    ):
        response = client.post(f"{RULES}add/", form)
        assert response.status_code == 200  # the form again, with the error
        assert response.context["adminform"].form.errors
    assert RoutingRule.objects.count() == before
    # Nor can their rule be moved to our clinic (it is not found at all).
    response = client.post(f"{RULES}{theirs.rule.pk}/change/", rule_form(ours))
    assert response.status_code == 302
    theirs.rule.refresh_from_db()
    assert theirs.rule.clinic == theirs.clinic

    assert client.post(f"{RULES}add/", rule_form(ours)).status_code == 302  # ours: saved
    saved = RoutingRule.objects.get(name="Refills to the pool")
    assert (saved.clinic, saved.updated_by) == (ours.clinic, administrator)


def test_a_visit_cannot_be_saved_for_another_clinics_patient(client, ours, theirs, administrator):
    client.force_login(administrator)
    form = {"on": "2026-02-01", "kind": PatientVisit.Kind.EM, "global_period_days": 0}

    response = client.post(f"{VISITS}add/", form | {"patient": theirs.patient.pk})

    assert response.status_code == 200
    assert "patient" in response.context["adminform"].form.errors
    assert not PatientVisit.objects.filter(on=datetime.date(2026, 2, 1)).exists()
    assert client.post(f"{VISITS}add/", form | {"patient": ours.patient.pk}).status_code == 302


def test_form_choices_offer_only_their_clinics(client, ours, theirs, administrator):
    client.force_login(administrator)

    rule_fields = client.get(f"{RULES}add/").context["adminform"].form.fields
    visit_fields = client.get(f"{VISITS}add/").context["adminform"].form.fields
    shift_fields = client.get("/admin/routing/oncallshift/add/").context["adminform"].form.fields

    assert list(rule_fields["clinic"].queryset) == [ours.clinic]
    assert set(visit_fields["patient"].queryset) == set(Patient.objects.filter(clinic=ours.clinic))
    assert administrator in shift_fields["clinician"].queryset
    assert not shift_fields["clinician"].queryset.filter(memberships__clinic=theirs.clinic).exists()


def test_users_clinics_and_the_fee_schedule_are_for_superusers_only(client, ours, administrator):
    # Even given every permission on them, a clinic administrator cannot open them.
    administrator.user_permissions.add(
        *Permission.objects.filter(content_type__model__in=["user", "clinic", "feeschedule"])
    )
    client.force_login(administrator)

    for url in (
        "/admin/accounts/user/",
        f"/admin/accounts/user/{administrator.pk}/change/",
        "/admin/accounts/clinic/",
        f"/admin/accounts/clinic/{ours.clinic.pk}/change/",
        "/admin/billing/feeschedule/",
    ):
        assert client.get(url).status_code == 403, url
    index = client.get("/admin/")
    assert index.status_code == 200
    assert [app["app_label"] for app in index.context["app_list"]] == [
        "accounts",
        "billing",
        "inbox",
        "routing",
        "triage",  # their clinics' label corrections only (not the model versions)
    ]
    triage_app = next(a for a in index.context["app_list"] if a["app_label"] == "triage")
    assert [m["object_name"] for m in triage_app["models"]] == ["LabelCorrection"]
    models = {m["object_name"] for app in index.context["app_list"] for m in app["models"]}
    assert not models & {"User", "Clinic", "FeeSchedule"}
    assert {"RoutingRule", "Queue", "PatientVisit", "ClaimExport", "Absence"} <= models


def test_saving_another_clinics_object_is_refused_past_the_form(rf, theirs, administrator):
    # The form already refuses it; save_model is the last guard (e.g. a custom form).
    request = rf.post(f"{VISITS}add/")
    request.user = administrator
    visit_admin = admin.site._registry[PatientVisit]
    visit = PatientVisit(patient=theirs.patient, on=datetime.date(2026, 3, 1))

    with pytest.raises(PermissionDenied):
        visit_admin.save_model(request, visit, form=None, change=False)
    assert visit.pk is None


def test_the_visit_form_names_no_patient_until_one_is_looked_up(client, ours, administrator):
    client.force_login(administrator)

    page = client.get(f"{VISITS}add/").content.decode()

    # A patient id with a look-up in the (scoped, logged) patient list, not a drop-down
    # naming every patient of the clinic.
    assert ours.patient.mrn not in page
    assert "/admin/inbox/patient/?_to_field=id" in page
    assert not PatientDataAccess.objects.filter(user=administrator).exists()
