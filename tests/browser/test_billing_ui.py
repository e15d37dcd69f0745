"""Billing in a real browser: a physician logs 12 minutes, the billing user approves the
99422 candidate and exports it; a second export does not contain it."""

import datetime

from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Membership, Role
from billing.models import PatientVisit
from routing import services
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.browser.pages import submit_login
from tests.inbox.factories import ConversationFactory, PatientFactory
from tests.triage.factories import ClassificationFactory


def log_in(page, username, landing):
    submit_login(page, username)
    expect(page.locator("h1")).to_contain_text(landing)


def test_physician_time_becomes_an_approved_exported_99422_once(page, screenshot):
    clinic = ClinicFactory(name="Primary Care - Downtown")
    physician = StaffFactory(username="dr.ortiz", clinic=clinic, role=Role.PHYSICIAN)
    Membership.objects.filter(user=physician).update(credential="MD", npi="1234567893")
    StaffFactory(username="billing.ann", clinic=clinic, role=Role.BILLING)
    now = timezone.now()
    patient = PatientFactory(
        clinic=clinic,
        name="Rosa Diaz",
        mrn="PC-4471",
        evisit_consent_at=now - datetime.timedelta(days=100),
    )
    PatientVisit.objects.create(patient=patient, on=(now - datetime.timedelta(days=90)).date())
    message = ClassificationFactory(
        message__conversation=ConversationFactory(patient=patient),
        message__subject="Rash after the new antibiotic",
        acuity="routine",
        service_level="physician",
    ).message
    item = services.route(message_id=message.pk)

    log_in(page, "dr.ortiz", "Physician")
    page.goto(f"/work/items/{item.pk}/")
    page.get_by_label("Minutes").fill("12")
    page.get_by_role("button", name="Log time").click()
    expect(page.locator(".flash")).to_contain_text("Time logged")
    page.get_by_role("button", name="Log out").click()

    log_in(page, "billing.ann", "E-visits")
    row = page.locator("tr[data-evisit]", has_text="Rosa Diaz")
    expect(row).to_contain_text("99422")
    expect(row).to_contain_text("12")
    expect(row).to_contain_text("$31.00")
    screenshot(page, "billing-list")
    row.get_by_role("link", name="Rosa Diaz").click()
    expect(page.locator("h1")).to_contain_text("99422")
    screenshot(page, "billing-detail")
    page.get_by_label("Reason").fill("New problem evaluated, documented")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".flash")).to_contain_text("Approved 1 of 1")

    page.goto("/billing/")
    with page.expect_download() as first:
        page.get_by_role("button", name="Export CSV").click()
    content = open(first.value.path()).read()  # noqa: SIM115 - the downloaded file
    assert "PC-4471" in content
    assert ",99422,12," in content

    page.goto("/billing/")
    page.get_by_role("button", name="Export CSV").click()
    expect(page.locator(".flash")).to_contain_text("Nothing approved is waiting for export")
    page.goto("/billing/revenue")
    expect(page.locator("table")).to_contain_text("$31.00")
    page.wait_for_function("() => window.Chart !== undefined")
    screenshot(page, "billing-revenue")
