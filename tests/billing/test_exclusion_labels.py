"""Plain words for billing refusals and exclusions (billing/exclusions.py): the review says
why each e-visit was not approved, and the list, the e-visit page and the revenue report
name every exclusion code as people read it."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.models import Membership, Role
from billing import cpt, exclusions, services
from billing.models import EVisit, PatientVisit
from routing import services as routing_services
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.inbox.factories import ConversationFactory, PatientFactory
from tests.triage.factories import ClassificationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def unconsented(django_capture_on_commit_callbacks):
    """An established patient without a cost-share consent, 8 physician minutes logged:
    a candidate that needs consent."""
    clinic = ClinicFactory()
    physician = StaffFactory(clinic=clinic, role=Role.PHYSICIAN)
    Membership.objects.filter(user=physician).update(credential="MD", npi="1234567893")
    billing = StaffFactory(clinic=clinic, role=Role.BILLING)
    patient = PatientFactory(clinic=clinic, evisit_consent_at=None)
    PatientVisit.objects.create(
        patient=patient, on=(timezone.now() - datetime.timedelta(days=60)).date()
    )
    message = ClassificationFactory(
        message__conversation=ConversationFactory(patient=patient), service_level="physician"
    ).message
    item = routing_services.route(message_id=message.pk)
    with django_capture_on_commit_callbacks(execute=True):
        services.log_minutes(actor=physician, item_id=item.pk, minutes=8)
    evisit = EVisit.objects.get(conversation=item.conversation)
    assert evisit.reasons == ["no_consent"]
    return billing, physician, item, evisit


def test_every_exclusion_code_of_the_rules_has_a_readable_name():
    for code in cpt.REASON_TEXT:
        label = exclusions.exclusion_label(code)
        assert label != code
        assert "_" not in label, code


def test_an_unknown_code_is_still_made_readable():
    assert exclusions.exclusion_label("some_new_rule") == "Some new rule"


def test_approving_an_excluded_evisit_says_why_it_was_not_approved(unconsented):
    billing, _, _, evisit = unconsented

    outcome = services.approve_with_reasons(actor=billing, ids=[evisit.pk])

    assert outcome.done == 0
    ((named, why),) = outcome.refused
    assert named.startswith(f"E-visit {evisit.pk} (99421")
    assert why == "Not billable: No cost-share consent from the patient."


def test_another_clinics_evisit_is_not_found_and_not_described(unconsented):
    _, _, _, evisit = unconsented
    outsider = StaffFactory(role=Role.BILLING)

    outcome = services.approve_with_reasons(actor=outsider, ids=[evisit.pk])

    assert outcome.refused == [(f"E-visit {evisit.pk}", "Not found among your clinics' e-visits.")]


def test_an_approved_evisit_is_not_approved_twice_and_says_so(unconsented):
    billing, _, _, evisit = unconsented
    EVisit.objects.filter(pk=evisit.pk).update(reasons=[], needs_consent=False)

    first = services.approve_with_reasons(actor=billing, ids=[evisit.pk])
    second = services.approve_with_reasons(actor=billing, ids=[evisit.pk])

    assert (first.done, first.refused) == (1, [])
    assert second.done == 0
    assert second.refused[0][1] == "It is already approved."


def test_the_review_page_shows_the_plain_reason(client, unconsented):
    billing, _, _, evisit = unconsented
    client.force_login(billing)

    response = client.post(
        "/billing/review",
        {"evisit": evisit.pk, "decision": "approve", "next": "/billing/"},
        follow=True,
    )

    page = response.content.decode()
    assert "Approved 0 of 1." in page
    assert f"E-visit {evisit.pk}" in page
    assert "was not approved. Not billable: No cost-share consent from the patient." in page


def test_list_detail_and_revenue_name_the_exclusion_not_the_code(client, unconsented):
    billing, _, _, evisit = unconsented
    client.force_login(billing)

    listing = client.get("/billing/?status=all").content.decode()
    detail = client.get(f"/billing/evisits/{evisit.pk}/").content.decode()
    revenue = client.get("/billing/revenue").content.decode()

    assert "No cost-share consent from the patient" in listing
    assert "No cost-share consent from the patient" in detail
    assert "No cost-share consent from the patient (1)" in revenue
    for page in (listing, detail, revenue):
        assert "no_consent" not in page


def test_a_running_timer_shows_its_start_in_clinic_time_not_zero_minutes(
    client, unconsented, django_capture_on_commit_callbacks
):
    billing, physician, item, evisit = unconsented
    started = datetime.datetime(2026, 1, 15, 18, 42, tzinfo=datetime.UTC)  # 10:42 in Pasadena
    with django_capture_on_commit_callbacks(execute=True):
        entry = services.start_timer(actor=physician, item_id=item.pk)
    entry.started_at = started
    entry.save(update_fields=["started_at"])
    assert item.clinic.time_zone == "America/Los_Angeles"
    assert timezone.localtime(started, ZoneInfo(item.clinic.time_zone)).hour == 10

    client.force_login(physician)
    work_page = client.get(f"/work/items/{item.pk}/").content.decode()
    client.force_login(billing)
    billing_page = client.get(f"/billing/evisits/{evisit.pk}/").content.decode()

    for page in (work_page, billing_page):
        assert "running since 10:42" in page
        assert "0.0 min" not in page
        assert "<td>0.0</td>" not in page


def test_rejecting_twice_says_it_is_already_rejected(client, unconsented):
    billing, _, _, evisit = unconsented
    client.force_login(billing)
    form = {"evisit": evisit.pk, "decision": "reject", "reason": "No consent", "next": "/billing/"}

    first = client.post("/billing/review", form, follow=True).content.decode()
    second = client.post("/billing/review", form, follow=True).content.decode()

    assert "Rejected 1 of 1." in first
    assert "Rejected 0 of 1." in second
    assert f"E-visit {evisit.pk} (99421" in second
    assert "was not rejected. It is already rejected." in second
