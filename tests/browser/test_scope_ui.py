"""Scope of practice and closed items in a real browser: what a front-desk user sees on
an emergent nurse-triage message, and a closed item that offers nothing but reopen."""

from playwright.sync_api import expect

from accounts.models import Role
from routing import work_items
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.browser.pages import log_out, submit_login
from tests.routing.factories import routed_item


def open_item(page, username, item):
    submit_login(page, username)
    expect(page.locator("#queue-title")).to_be_visible()
    page.goto(f"/work/items/{item.pk}/")


def test_a_clerk_sees_why_and_a_closed_item_offers_only_reopen(page, screenshot):
    clinic = ClinicFactory(name="Oncology - Pasadena")
    StaffFactory(username="onc-clerical", clinic=clinic, role=Role.CLERICAL)
    nurse = StaffFactory(username="rn.shaw", clinic=clinic, role=Role.NURSE)
    legs = routed_item(
        clinic,
        acuity="emergent",
        level="nurse",
        subject="Legs weak",
        body="My legs are weak and numb since this morning, back pain.",
    )
    answered = routed_item(clinic, acuity="urgent", level="nurse", subject="Fever 38.1")
    work_items.claim(actor=nurse, item_id=answered.pk)
    work_items.respond(actor=nurse, item_id=answered.pk, body="Please come in today at 2 pm.")
    work_items.close(actor=nurse, item_id=answered.pk, reason="appointment made")

    # The front desk may read the emergent message but not claim, answer or close it.
    open_item(page, "onc-clerical", legs)
    expect(page.locator("#thread-title")).to_contain_text("Legs weak")
    expect(page.get_by_role("button", name="Claim (c)")).to_have_count(0)
    expect(page.get_by_role("button", name="Close")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("may not")
    screenshot(page, "scope-refusal")
    log_out(page)

    # A closed item: when and by whom, no due time, only reopen (nurse).
    open_item(page, "rn.shaw", answered)
    expect(page.locator("[data-closed]")).to_contain_text("rn.shaw")
    expect(page.locator("[data-read-only]")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("due in")
    expect(page.get_by_role("button", name="Reopen")).to_be_visible()
    expect(page.get_by_role("button", name="Claim (c)")).to_have_count(0)
    expect(page.get_by_role("button", name="Log time")).to_have_count(0)
    screenshot(page, "closed-item")
