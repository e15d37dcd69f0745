"""A clinic day in a real browser: log in, the queue, keyboard, claim, reassign, the
nurse escalates and logs time, log out; clinic isolation and script injection."""

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from routing import services
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.browser.pages import log_out, submit_login
from tests.routing.factories import routed_item


def log_in(page, username):
    submit_login(page, username)
    expect(page.locator("#queue-title")).to_be_visible()


def test_physician_claims_and_reassigns_then_the_nurse_escalates_and_logs_time(page, screenshot):
    clinic = ClinicFactory(name="Oncology - Pasadena")
    StaffFactory(username="dr.lee", clinic=clinic, role=Role.PHYSICIAN)
    StaffFactory(username="rn.kim", clinic=clinic, role=Role.NURSE)
    routed_item(
        clinic,
        acuity="routine",
        level="physician",
        subject="Lisinopril dose question",
        body="Please advise.",
    )
    routed_item(
        clinic,
        acuity="emergent",
        level="physician",
        subject="Crushing chest pain",
        body="Chest pain since an hour, short of breath.",
    )

    page.goto("/login/")
    screenshot(page, "login")
    log_in(page, "dr.lee")
    expect(page.locator("#queue-title")).to_have_text("Physician")
    rows = page.locator("tbody#rows tr[data-item-url]")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Crushing chest pain")
    expect(rows.nth(1)).to_contain_text("Lisinopril dose question")
    screenshot(page, "queue")
    page.set_viewport_size({"width": 820, "height": 1180})  # a tablet held upright
    expect(rows.nth(0)).to_be_visible()
    screenshot(page, "queue-tablet")
    page.set_viewport_size({"width": 1280, "height": 860})

    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_class("selected")
    page.keyboard.press("Enter")
    expect(page.locator("#thread-title")).to_contain_text("Lisinopril dose question")
    page.keyboard.press("c")  # claim
    expect(page.locator(".flash")).to_contain_text("Claimed")
    expect(page.locator("[data-status]")).to_have_text("Claimed")
    screenshot(page, "detail")

    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    screenshot(page, "help")
    page.locator("#help").get_by_role("button", name="Close").click()

    page.keyboard.press("a")
    expect(page.locator("#reassign-target")).to_be_focused()
    page.select_option("#reassign-target", "role:nurse")
    page.get_by_label("Reason", exact=True).fill("A nurse can answer this dose question")
    page.get_by_role("button", name="Reassign").click()
    expect(page.locator(".flash")).to_contain_text("Reassigned")
    # On to the next item of the physician queue (opened, not claimed).
    expect(page.locator("#thread-title")).to_contain_text("Crushing chest pain")
    expect(page.locator("[data-status]")).to_have_text("Open")
    log_out(page)

    log_in(page, "rn.kim")
    expect(page.locator("#queue-title")).to_have_text("Nurse triage")
    screenshot(page, "nurse-queue")
    page.get_by_role("link", name="Lisinopril dose question").click()
    expect(page.locator("[data-why]")).to_contain_text("A nurse can answer this dose question")
    page.get_by_label("Escalate: reason (e)").fill("Needs a dose change")
    page.get_by_role("button", name="Escalate").click()
    expect(page.locator(".flash")).to_contain_text("Escalated")
    page.get_by_label("Minutes").fill("12")
    page.get_by_role("button", name="Log time").click()
    expect(page.locator(".flash")).to_contain_text("Time logged")
    expect(page.locator("[data-total-minutes]")).to_have_text("12.0")
    page.keyboard.press("t")  # timer on
    expect(page.locator("#timer")).to_have_text("Stop timer (t)")
    page.keyboard.press("t")  # and off
    expect(page.locator(".flash")).to_contain_text("Timer stopped")
    screenshot(page, "nurse-detail")
    log_out(page)


def test_another_clinics_message_answers_404(page):
    mine, theirs = ClinicFactory(), ClinicFactory()
    StaffFactory(username="rn.mine", clinic=mine, role=Role.NURSE)
    services.ensure_default_queues(clinic=mine)
    other = routed_item(theirs, acuity="urgent", level="nurse", subject="Not yours")
    log_in(page, "rn.mine")
    response = page.goto(f"/work/items/{other.pk}/")
    assert response.status == 404
    expect(page.locator("body")).not_to_contain_text("Not yours")


@pytest.mark.parametrize("where", ["subject", "body"])
def test_script_in_a_message_is_shown_as_text_and_never_runs(page, where):
    clinic = ClinicFactory()
    StaffFactory(username="rn.safe", clinic=clinic, role=Role.NURSE)
    attack = '<script>window.__xss = 1</script><img src="x" onerror="window.__xss = 2">'
    fields = {"subject": "Hello", "body": "Hello"} | {where: attack}
    item = routed_item(clinic, acuity="urgent", level="nurse", **fields)
    errors = []
    page.on("dialog", lambda dialog: errors.append(dialog.message))
    log_in(page, "rn.safe")
    page.goto(f"/work/items/{item.pk}/")
    expect(page.locator("main")).to_contain_text("<script>window.__xss = 1</script>")
    page.wait_for_timeout(300)  # give an injected onerror a chance to fire
    assert page.evaluate("window.__xss") is None
    assert page.locator("main img[src='x']").count() == 0
    assert errors == []
