"""E-visits end to end through the services and the billing endpoints."""

import datetime
import json
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Membership, Role
from billing import selectors, services
from billing.models import BillingAuditEvent, ClaimExport, EVisit, PatientVisit
from inbox.models import PatientDataAccess
from routing import services as routing_services
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.inbox.factories import ConversationFactory, PatientFactory
from tests.triage.factories import ClassificationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic_day(django_capture_on_commit_callbacks):
    """An established, consenting patient's message routed to the physician pool."""
    clinic = ClinicFactory()
    physician = StaffFactory(clinic=clinic, role=Role.PHYSICIAN)
    Membership.objects.filter(user=physician).update(credential="MD", npi="1234567893")
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    Membership.objects.filter(user=nurse).update(credential="RN")
    billing = StaffFactory(clinic=clinic, role=Role.BILLING)
    now = timezone.now()
    patient = PatientFactory(clinic=clinic, evisit_consent_at=now - datetime.timedelta(days=30))
    PatientVisit.objects.create(patient=patient, on=(now - datetime.timedelta(days=60)).date())
    message = ClassificationFactory(
        message__conversation=ConversationFactory(patient=patient), service_level="physician"
    ).message
    item = routing_services.route(message_id=message.pk)

    def log(user, minutes):
        with django_capture_on_commit_callbacks(execute=True):
            services.log_minutes(actor=user, item_id=item.pk, minutes=minutes)
        return EVisit.objects.get(conversation=item.conversation)

    return clinic, physician, nurse, billing, patient, item, log


def test_twelve_physician_minutes_make_a_99422_candidate(clinic_day):
    _, physician, _, _, _, _, log = clinic_day
    evisit = log(physician, 12)
    assert (evisit.status, evisit.code, evisit.minutes) == ("candidate", "99422", 12)
    assert str(evisit.amount) == "31.00"
    assert evisit.rendering_clinician == physician


def test_nurse_time_alone_is_not_billable(clinic_day):
    _, _, nurse, _, _, _, log = clinic_day
    evisit = log(nurse, 30)
    assert evisit.status == "not_billable"
    assert evisit.reasons == ["rn_ma_time_only"]


def test_without_consent_the_candidate_needs_consent_and_cannot_be_approved(clinic_day):
    _, physician, _, billing, patient, _, log = clinic_day
    patient.evisit_consent_at = None
    patient.save()
    evisit = log(physician, 8)
    assert (evisit.status, evisit.needs_consent) == ("candidate", True)
    assert services.approve(actor=billing, ids=[evisit.pk]) == 0


def test_approve_export_once_and_audit(clinic_day):
    _, physician, _, billing, patient, _, log = clinic_day
    evisit = log(physician, 12)
    assert services.approve(actor=billing, ids=[evisit.pk], reason="documented") == 1
    export = services.export_approved(actor=billing, export_format="csv")
    assert export.claims == 1
    header, row = export.content.strip().splitlines()
    assert header.startswith("mrn,patient,date_of_service,time_zone,code,minutes")
    assert patient.mrn in row
    assert ",99422,12," in row
    assert "1234567893" in row
    assert services.export_approved(actor=billing, export_format="csv") is None
    evisit.refresh_from_db()
    assert (evisit.status, evisit.export) == ("exported", export)
    actions = list(BillingAuditEvent.objects.values_list("action", "actor"))
    assert actions == [("approved", billing.pk), ("exported", billing.pk)]


def test_fhir_export_is_a_bundle_of_charge_items(clinic_day):
    _, physician, _, billing, _, _, log = clinic_day
    services.approve(actor=billing, ids=[log(physician, 25).pk])
    bundle = json.loads(services.export_approved(actor=billing, export_format="fhir").content)
    assert bundle["resourceType"] == "Bundle"
    charge = bundle["entry"][0]["resource"]
    assert charge["resourceType"] == "ChargeItem"
    assert charge["code"]["coding"][0]["code"] == "99423"
    assert charge["performer"][0]["actor"]["identifier"]["value"] == "1234567893"


def test_a_visit_in_the_next_7_days_voids_an_approval(
    clinic_day, django_capture_on_commit_callbacks
):
    _, physician, _, billing, patient, item, log = clinic_day
    services.approve(actor=billing, ids=[log(physician, 12).pk])
    PatientVisit.objects.create(
        patient=patient, on=timezone.localdate() + datetime.timedelta(days=3)
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.visit_changed(patient_id=patient.pk)
    evisit = EVisit.objects.get(conversation=item.conversation)
    assert evisit.status == "not_billable"
    assert "visit_within_next_7_days" in evisit.reasons
    assert BillingAuditEvent.objects.filter(action="voided", evisit=evisit).exists()


def test_rejection_needs_a_reason_and_counts_as_missed_revenue(clinic_day):
    from routing.exceptions import InvalidTarget

    _, physician, _, billing, _, _, log = clinic_day
    evisit = log(physician, 12)
    with pytest.raises(InvalidTarget):
        services.reject(actor=billing, ids=[evisit.pk], reason="")
    assert services.reject(actor=billing, ids=[evisit.pk], reason="not a new problem") == 1
    (row,) = selectors.revenue_report(user=billing)
    assert (row["captured_count"], row["missed_count"], str(row["missed_amount"])) == (
        0,
        1,
        "31.00",
    )
    assert row["missed_reasons"] == {"rejected": 1}


@pytest.mark.parametrize("role", [Role.CLERICAL, Role.MA, Role.NURSE, Role.PHYSICIAN])
def test_staff_other_than_billing_get_404_on_billing_pages_and_api(client, clinic_day, role):
    clinic, physician, _, billing, _, _, log = clinic_day
    evisit = log(physician, 12)
    user = StaffFactory(clinic=clinic, role=role)
    client.force_login(user)
    for url in [
        "/billing/",
        "/billing/revenue",
        f"/billing/evisits/{evisit.pk}/",
        "/api/v1/billing/evisits",
    ]:
        assert client.get(url).status_code == 404, url
    assert (
        client.post("/billing/review", {"evisit": evisit.pk, "decision": "approve"}).status_code
        == 404
    )
    assert client.post("/billing/export", {"format": "csv"}).status_code == 404
    evisit.refresh_from_db()
    assert evisit.status == "candidate"
    client.force_login(billing)
    assert client.get("/billing/").status_code == 200
    assert client.get("/api/v1/billing/evisits").json()["results"][0]["code"] == "99422"


def test_billing_of_another_clinic_sees_nothing(client, clinic_day):
    _, physician, _, _, _, _, log = clinic_day
    evisit = log(physician, 12)
    outsider = StaffFactory(clinic=ClinicFactory(), role=Role.BILLING)
    client.force_login(outsider)
    assert client.get(f"/billing/evisits/{evisit.pk}/").status_code == 404
    assert services.approve(actor=outsider, ids=[evisit.pk]) == 0


def test_time_can_be_logged_through_the_api(
    client_for, clinic_day, django_capture_on_commit_callbacks
):
    _, physician, _, _, _, item, _ = clinic_day
    api = client_for(physician)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/work-items/{item.pk}/time", {"minutes": 21}, format="json")
    assert response.status_code == 201, response.content
    assert EVisit.objects.get(conversation=item.conversation).code == "99423"
    assert (
        api.post(f"/api/v1/work-items/{item.pk}/time", {"minutes": 0}, format="json").status_code
        == 400
    )
    outsider = client_for(StaffFactory(clinic=ClinicFactory()))
    assert (
        outsider.post(
            f"/api/v1/work-items/{item.pk}/time", {"minutes": 5}, format="json"
        ).status_code
        == 404
    )


def test_opening_an_evisit_record_is_written_to_the_access_log(client, clinic_day):
    clinic, physician, _, billing, patient, _, log = clinic_day
    evisit = log(physician, 12)
    client.force_login(billing)

    assert client.get(f"/billing/evisits/{evisit.pk}/").status_code == 200

    access = PatientDataAccess.objects.get()
    assert (access.user, access.patient, access.clinic) == (billing, patient, clinic)
    assert (access.what, access.object_id) == ("evisit_record", evisit.pk)


def evisit_for(clinic, *, status, patient=None, days_ago=1) -> EVisit:
    """An e-visit of a patient of `clinic` (a new one unless given), in its own
    conversation, with the fields the list and the export show."""
    # Rendered by the clinic's clinician with an NPI, when there is one: a claim without
    # an NPI is listed for a check before export (test_dates_of_service.py).
    rendering = Membership.objects.filter(clinic=clinic).exclude(npi="").first()
    return EVisit.objects.create(
        clinic=clinic,
        rendering_clinician=rendering.user if rendering else None,
        conversation=ConversationFactory(patient=patient or PatientFactory(clinic=clinic)),
        status=status,
        code="99422",
        minutes=12,
        amount=Decimal("31.00"),
        window_start=timezone.now() - datetime.timedelta(days=days_ago),
    )


@pytest.mark.parametrize(
    ("url", "what"),
    [("/api/v1/billing/evisits", "evisit_list_api"), ("/billing/", "evisit_list")],
)
def test_the_evisit_list_is_written_to_the_access_log_once_per_patient_shown(
    client, clinic_day, url, what
):
    clinic, _, _, billing, _, _, _ = clinic_day
    newest = evisit_for(clinic, status="ready", days_ago=1)
    patient = newest.conversation.patient
    evisit_for(clinic, status="ready", patient=patient, days_ago=2)
    other = evisit_for(clinic, status="ready", days_ago=3)
    evisit_for(clinic, status="rejected")  # filtered out by the status
    client.force_login(billing)

    assert client.get(url, {"status": "ready"}).status_code == 200

    logged = PatientDataAccess.objects.values_list("patient", "object_id", "what", "user")
    assert sorted(logged) == sorted(
        [
            (patient.pk, newest.pk, what, billing.pk),  # the patient's first row on the page
            (other.conversation.patient_id, other.pk, what, billing.pk),
        ]
    )


@pytest.mark.parametrize("export_format", ["csv", "fhir"])
def test_a_claims_export_and_its_download_are_written_to_the_access_log(
    client, clinic_day, export_format
):
    clinic, _, _, billing, _, _, _ = clinic_day
    first = evisit_for(clinic, status="approved")
    patient = first.conversation.patient
    evisit_for(clinic, status="approved", patient=patient, days_ago=2)
    second = evisit_for(clinic, status="approved", days_ago=3)
    evisit_for(clinic, status="ready")  # not approved: not in the file
    in_file = {patient.pk, second.conversation.patient_id}
    client.force_login(billing)

    response = client.post("/billing/export", {"format": export_format})

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    export = ClaimExport.objects.get()
    content = response.content.decode()
    assert patient.mrn in content
    assert second.conversation.patient.mrn in content
    logged = list(PatientDataAccess.objects.values_list("patient", "object_id", "what", "user"))
    assert sorted(logged) == sorted(
        (patient_id, export.pk, "claims_export", billing.pk) for patient_id in in_file
    )

    before = PatientDataAccess.objects.latest("pk").pk

    assert client.get(f"/billing/exports/{export.pk}").status_code == 200  # downloaded again

    again = PatientDataAccess.objects.filter(pk__gt=before).values_list("patient", "object_id")
    assert sorted(again) == sorted((patient_id, export.pk) for patient_id in in_file)


def test_a_refused_or_empty_billing_request_writes_nothing_to_the_access_log(client, clinic_day):
    clinic, _, nurse, billing, _, _, _ = clinic_day
    evisit = evisit_for(clinic, status="approved")
    client.force_login(billing)
    assert client.post("/billing/export", {"format": "csv"}).status_code == 200
    export = ClaimExport.objects.get()
    PatientDataAccess.objects.all().delete()
    outsider = StaffFactory(clinic=ClinicFactory(), role=Role.BILLING)

    assert client.post("/billing/export", {"format": "csv"}).status_code == 302  # nothing left
    assert client.post("/billing/export", {"format": "pdf"}).status_code == 302
    for user in (nurse, outsider):
        client.force_login(user)
        assert client.get(f"/billing/exports/{export.pk}").status_code == 404
        assert client.get(f"/billing/evisits/{evisit.pk}/").status_code == 404
    client.force_login(nurse)
    assert client.get("/api/v1/billing/evisits").status_code == 404
    assert client.get("/billing/").status_code == 404
    assert client.post("/billing/export", {"format": "csv"}).status_code == 404
    client.force_login(outsider)
    assert client.get("/api/v1/billing/evisits").json()["results"] == []

    assert not PatientDataAccess.objects.exists()


def test_a_claims_file_naming_another_clinics_patients_is_refused_to_who_may_not_see_it(
    client, clinic_day
):
    clinic, _, _, billing, _, _, _ = clinic_day
    other = ClinicFactory()
    both = StaffFactory(clinic=clinic, role=Role.BILLING)
    Membership.objects.create(user=both, clinic=other, role=Role.BILLING)
    evisit_for(clinic, status="approved")
    elsewhere = evisit_for(other, status="approved")  # no NPI there: checked, then sent
    client.force_login(both)
    made = client.post("/billing/export", {"format": "csv", "acknowledged": [elsewhere.pk]})
    assert made.status_code == 200
    export = ClaimExport.objects.get()
    assert elsewhere.conversation.patient.mrn in export.content
    assert client.get(f"/billing/exports/{export.pk}").status_code == 200

    client.force_login(billing)  # billing for `clinic` only

    assert client.get(f"/billing/exports/{export.pk}").status_code == 404
    assert export not in selectors.recent_exports(clinics=selectors.billing_clinics(user=billing))
    assert not PatientDataAccess.objects.filter(user=billing).exists()
