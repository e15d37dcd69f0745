"""The idle sign-out warns first (WCAG 2.2.1), one click extends it, and typing a long
reply keeps the session, so a reply written slowly is not lost to a login page."""

import time

from playwright.sync_api import expect

from accounts.models import Role, User
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.browser.test_staff_ui import log_in
from tests.routing.factories import routed_item

TIMEOUT = 6  # seconds; the warning shows in the last third


def open_item(page, settings):
    settings.SESSION_IDLE_TIMEOUT_SECONDS = TIMEOUT
    clinic = ClinicFactory()
    nurse = StaffFactory(username="rn.idle", clinic=clinic, role=Role.NURSE)
    # Stay on the item after replying, so the test sees the reply it sent.
    User.objects.filter(pk=nurse.pk).update(after_action=User.AfterAction.STAY)
    routed_item(clinic, acuity="routine", level="nurse", subject="Port question", body="Hi")
    log_in(page, "rn.idle")
    page.locator("tbody#rows tr[data-item-url] a").first.click()
    expect(page.get_by_label("Reply to the patient (r)")).to_be_visible()


def test_warning_then_stay_signed_in_keeps_the_session(page, settings):
    open_item(page, settings)
    warning = page.get_by_role("alertdialog", name="Still there?")
    expect(warning).to_be_visible(timeout=TIMEOUT * 1000)
    expect(warning).to_contain_text("signed out in")
    page.get_by_role("button", name="Stay signed in").click()
    expect(warning).to_be_hidden()
    time.sleep(TIMEOUT - 2)  # past the first deadline: only the click kept it
    page.get_by_label("Reply to the patient (r)").fill("Flush it weekly.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator(".msg.from-staff").last).to_contain_text("Flush it weekly.")


def test_typing_a_long_reply_keeps_the_session_without_a_warning(page, settings):
    open_item(page, settings)
    reply = page.get_by_label("Reply to the patient (r)")
    reply.click()
    for word in [
        "Please",
        "flush",
        "the",
        "port",
        "once",
        "a",
        "week",
        "with",
        "saline",
        "and",
        "call",
        "us",
    ]:
        reply.press_sequentially(word + " ")
        time.sleep(0.8)  # 11 words: well past the idle time, typing all along
    expect(page.get_by_role("alertdialog")).to_be_hidden()
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator(".msg.from-staff").last).to_contain_text("call us")


def test_ignored_warning_ends_at_the_login_page(page, settings):
    open_item(page, settings)
    expect(page.get_by_role("alertdialog", name="Still there?")).to_be_visible(
        timeout=TIMEOUT * 1000
    )
    expect(page.get_by_role("heading", name="Log in")).to_be_visible(timeout=TIMEOUT * 1000)
    assert page.url.endswith("/login/?idle=1")


def test_a_lost_keep_alive_warns_instead_of_leaving_the_page(page, settings):
    open_item(page, settings)
    lost = []
    page.route("**/session/keep-alive", lambda route: (lost.append(1), route.abort()))
    page.get_by_label("Reply to the patient (r)").press_sequentially("Flush ")
    page.wait_for_timeout(2500)  # the clock sent the keep-alive, and it was lost
    assert lost
    expect(page.get_by_label("Reply to the patient (r)")).to_have_value("Flush ")
    expect(page.get_by_role("alertdialog", name="Still there?")).to_be_visible(
        timeout=TIMEOUT * 1000
    )


def test_a_keep_alive_that_never_answers_does_not_hold_the_warning_back(page, settings):
    open_item(page, settings)
    opened = time.monotonic()
    held = []
    page.route("**/session/keep-alive", lambda route: held.append(route))  # never answered
    page.get_by_label("Reply to the patient (r)").press_sequentially("Flush ")

    expect(page.get_by_role("alertdialog", name="Still there?")).to_be_visible(
        timeout=TIMEOUT * 1000
    )
    assert held
    # The server signs the session out TIMEOUT after it last heard from the page: the
    # warning must come before that, not TIMEOUT after the unanswered request.
    assert time.monotonic() - opened < TIMEOUT
