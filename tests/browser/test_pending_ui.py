"""Pending and the patient context in a real browser: a nurse looks at the patient's
earlier conversations, pends the message until tomorrow with a reason, sees it leave the
queue and find it under Pending; the clock moves (the return sweep runs with a later
`now`) and the message is back in the queue with its history."""

import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from routing import pending, services, work_items
from routing.models import WorkItem
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.browser.pages import submit_login
from tests.inbox.factories import ConversationFactory
from tests.routing.factories import classified_message, routed_item


def test_a_nurse_pends_an_item_until_tomorrow_and_it_comes_back(page, screenshot):
    clinic = ClinicFactory(name="Oncology - Pasadena", time_zone="America/Los_Angeles")
    nurse = StaffFactory(username="rn.ortiz", clinic=clinic, role=Role.NURSE)
    item = routed_item(
        clinic,
        acuity="urgent",
        subject="Swelling in my left arm",
        body="My left arm near the PICC line is swollen since yesterday.",
    )
    patient = item.conversation.patient
    earlier = services.route(
        message_id=classified_message(
            clinic,
            acuity="routine",
            conversation=ConversationFactory(patient=patient),
            subject="Flushing the PICC line",
        ).pk
    )
    work_items.claim(actor=nurse, item_id=earlier.pk)
    work_items.respond(actor=nurse, item_id=earlier.pk, body="Every 7 days; we will do it.")
    WorkItem.objects.filter(pk=earlier.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=40)
    )

    submit_login(page, "rn.ortiz")
    expect(page.locator("#queue-title")).to_have_text("Nurse triage")
    page.wait_for_function("() => window.htmx !== undefined && document.readyState === 'complete'")
    page.get_by_role("link", name="Swelling in my left arm").click()
    expect(page.locator("#thread-title")).to_contain_text("Swelling in my left arm")

    # The patient's earlier conversations, on demand (htmx), each linking to its item.
    page.wait_for_function("() => window.htmx !== undefined && document.readyState === 'complete'")
    page.get_by_role("link", name="Show this patient's other conversations").click()
    context = page.locator("[data-patient-context]")
    expect(context.get_by_role("link", name="Flushing the PICC line")).to_be_visible()
    expect(context).to_contain_text("rn.ortiz (nurse)")
    context.scroll_into_view_if_needed()
    screenshot(page, "patient-context")

    # Pend until tomorrow 09:00 clinic time, with a reason.
    tomorrow = timezone.localtime(timezone.now(), ZoneInfo(clinic.time_zone)) + datetime.timedelta(
        days=1
    )
    page.get_by_label("Pend: what are you waiting for?").fill("Ultrasound of the arm")
    page.get_by_label("Back on (clinic time; for an event: no later than)").fill(
        tomorrow.strftime("%Y-%m-%dT09:00")
    )
    page.get_by_role("button", name="Pend", exact=True).click()
    expect(page.locator("body")).to_contain_text("Pended: it has left the queue")
    state = page.locator("[data-pended-state]")
    expect(state).to_contain_text("Ultrasound of the arm")
    expect(state).to_contain_text(tomorrow.strftime("%d %b") + " 09:00")
    expect(page.get_by_role("button", name="Claim (c)")).to_have_count(0)
    state.scroll_into_view_if_needed()
    screenshot(page, "pending-item")

    # Out of the queue; found under Pending.
    page.goto("/work/")
    expect(page.locator("#queue-title")).to_have_text("Nurse triage")
    expect(page.locator("tbody#rows")).not_to_contain_text("Swelling in my left arm")
    page.get_by_role("link", name="Pending items").click()
    expect(page.locator("[data-pending-table]")).to_contain_text("Swelling in my left arm")
    expect(page.locator("[data-pending-table]")).to_contain_text("Ultrasound of the arm")
    screenshot(page, "pending-list")

    # The clock moves: the beat sweep runs the day after, past 09:00.
    assert pending.return_due_items(now=timezone.now() + datetime.timedelta(days=2)) == 1

    page.goto("/work/")
    expect(page.locator("tbody#rows")).to_contain_text("Swelling in my left arm")
    page.get_by_role("link", name="Swelling in my left arm").click()
    history = page.locator("ol.events")
    expect(history).to_contain_text("Pended by rn.ortiz")
    expect(history).to_contain_text("Ultrasound of the arm")
    expect(history).to_contain_text("Back from pending")
    expect(page.locator("[data-pended-state]")).to_have_count(0)
    expect(page.get_by_role("button", name="Claim (c)")).to_be_visible()
