"""Issue 24, in a real browser: an administrator of a Pasadena clinic enters an on-call
shift in the admin in Pasadena time, with the zone named, and sees it back in Pasadena
time; a billing reviewer approving an e-visit without consent is told why it was not
approved, in plain words."""

import datetime

from django.contrib.auth.models import Group, Permission
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import CLINIC_ADMINISTRATORS_GROUP, Membership, Role
from billing import services as billing_services
from billing.models import EVisit, PatientVisit
from routing import services
from routing.models import OnCallShift
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.browser.pages import submit_login
from tests.inbox.factories import ConversationFactory, PatientFactory
from tests.triage.factories import ClassificationFactory


def clinic_administrators_group() -> Group:
    # A live-server test empties every table when it ends, the group of the data migration
    # included; make it again with what this test needs.
    group, _ = Group.objects.get_or_create(name=CLINIC_ADMINISTRATORS_GROUP)
    group.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="routing",
            codename__in=["view_oncallshift", "add_oncallshift", "change_oncallshift"],
        )
    )
    return group


def test_an_administrator_enters_an_on_call_shift_in_clinic_time(page, screenshot):
    clinic = ClinicFactory(name="Oncology - Pasadena", time_zone="America/Los_Angeles")
    StaffFactory(username="rn.kim", clinic=clinic, role=Role.NURSE)
    admin_user = StaffFactory(username="admin.lee", clinic=clinic, role=Role.ADMIN, is_staff=True)
    admin_user.groups.add(clinic_administrators_group())

    # Signed in on the staff screens; the header links to the admin.
    submit_login(page, "admin.lee")
    page.goto("/operations/")
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Admin").click()
    expect(page.locator("[data-admin-zone]")).to_have_text(
        "Times in America/Los_Angeles (clinic time)"
    )

    page.get_by_role("link", name="On-call shifts").first.click()
    page.get_by_role("link", name="Add on-call shift").click()
    expect(page.get_by_text("Starts at (America/Los_Angeles)")).to_be_visible()
    page.get_by_label("Clinic:", exact=True).select_option(label="Oncology - Pasadena")
    page.get_by_label("Clinician:", exact=True).select_option(label="rn.kim")
    page.locator("#id_starts_at_0").fill("2026-01-15")
    page.locator("#id_starts_at_1").fill("08:00")
    page.locator("#id_ends_at_0").fill("2026-01-15")
    page.locator("#id_ends_at_1").fill("17:00")
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    shift = OnCallShift.objects.get()
    assert shift.starts_at == datetime.datetime(2026, 1, 15, 16, 0, tzinfo=datetime.UTC)
    header = page.get_by_role("columnheader", name="Starts at (America/Los_Angeles)")
    expect(header).to_be_visible()
    row = page.locator("#result_list tbody tr").first
    expect(row).to_contain_text("Jan. 15, 2026, 8 a.m.")
    expect(row).to_contain_text("5 p.m.")
    screenshot(page, "admin-clinic-time")

    row.get_by_role("link").first.click()
    expect(page.locator("#id_starts_at_1")).to_have_value("08:00:00")
    expect(page.locator("#id_ends_at_1")).to_have_value("17:00:00")


def test_a_billing_reviewer_is_told_why_an_evisit_was_not_approved(page, screenshot):
    clinic = ClinicFactory(name="Primary Care - Downtown")
    physician = StaffFactory(username="dr.ortiz", clinic=clinic, role=Role.PHYSICIAN)
    Membership.objects.filter(user=physician).update(credential="MD", npi="1234567893")
    StaffFactory(username="billing.ann", clinic=clinic, role=Role.BILLING)
    now = timezone.now()
    patient = PatientFactory(clinic=clinic, name="Rosa Diaz", mrn="PC-4471", evisit_consent_at=None)
    PatientVisit.objects.create(patient=patient, on=(now - datetime.timedelta(days=90)).date())
    message = ClassificationFactory(
        message__conversation=ConversationFactory(patient=patient),
        message__subject="Rash after the new antibiotic",
        acuity="routine",
        service_level="physician",
    ).message
    item = services.route(message_id=message.pk)
    billing_services.log_minutes(actor=physician, item_id=item.pk, minutes=12)
    billing_services.recompute_evisit(conversation_id=item.conversation_id)
    evisit = EVisit.objects.get(conversation=item.conversation)
    assert evisit.reasons == ["no_consent"]

    submit_login(page, "billing.ann")
    expect(page.locator("h1")).to_contain_text("E-visits")
    row = page.locator("tr[data-evisit]", has_text="Rosa Diaz")
    expect(row).to_contain_text("No cost-share consent from the patient")
    row.get_by_role("checkbox").check()
    page.get_by_role("button", name="Approve selected").click()

    flash = page.locator(".flash")
    expect(flash).to_contain_text("Approved 0 of 1.")
    expect(flash).to_contain_text(
        f"E-visit {evisit.pk} (99422, service date {evisit.service_date:%Y-%m-%d}) was not "
        "approved. Not billable: No cost-share consent from the patient."
    )
    screenshot(page, "billing-refusal-reason")

    page.goto("/billing/revenue")
    expect(page.locator("table")).to_contain_text("No cost-share consent from the patient (1)")
    expect(page.locator("table")).not_to_contain_text("no_consent")
