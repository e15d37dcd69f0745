"""Bulk actions in a real browser: a clerk selects five items of the clerical pool (all on
the page, with the keyboard) and sends them to another queue; the two urgent ones are
refused by the scope of practice, each with the reason, and the three others move."""

from playwright.sync_api import expect

from accounts.models import Role
from routing.models import WorkItem
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.browser.pages import submit_login
from tests.routing.factories import QueueFactory, routed_item


def test_a_clerk_bulk_reassigns_five_items_and_is_told_why_two_were_refused(page, screenshot):
    clinic = ClinicFactory(name="Oncology - Pasadena")
    StaffFactory(username="fd.lopez", clinic=clinic, role=Role.CLERICAL)
    records = QueueFactory(clinic=clinic, role="clerical", name="Medical records")
    routine = [
        routed_item(clinic, level="clerical", subject=subject)
        for subject in ("Copy of my scan report", "Records for my new doctor", "Release form")
    ]
    urgent = [
        routed_item(clinic, acuity="urgent", level="clerical", subject=subject)
        for subject in ("Insurance denied my infusion", "Chemo bill in collections")
    ]

    submit_login(page, "fd.lopez")
    expect(page.locator("#queue-title")).to_have_text("Clerical pool")
    page.wait_for_function("() => window.htmx !== undefined && document.readyState === 'complete'")
    expect(page.locator("#rows tr[data-item-id]")).to_have_count(5)

    # One row by the keys (j selects the first row, x its box), then all on the page.
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect(page.locator("[data-bulk-count]")).to_have_text("1 selected")
    page.get_by_label("Select all on this page").focus()
    page.keyboard.press("Space")
    expect(page.locator("#rows input[data-bulk-item]:checked")).to_have_count(5)
    expect(page.locator("[data-bulk-count]")).to_have_text("5 selected")

    page.get_by_label("Reassign selected to").select_option(label="Medical records")
    page.get_by_label("Reason", exact=True).fill("Records requests go to the records team")
    page.get_by_role("button", name="Reassign selected").click()

    summary = page.locator("[data-bulk-summary]")
    expect(summary.get_by_role("heading", level=2)).to_have_text("Done 3 of 5; 2 refused")
    refused = page.locator("[data-bulk-refused] li")
    expect(refused).to_have_count(2)
    for item in urgent:
        line = refused.filter(has_text=f"Item {item.pk} ({item.conversation.patient.name})")
        expect(line).to_contain_text(
            "A clerical role may send a clerical-level message only up, to a more trained "
            "role: moving it to clerical-level work is for someone who may take it. "
            "Send it to nurse triage."
        )
    expect(page.locator("[data-bulk-done] li")).to_have_count(3)
    expect(page.locator("[data-bulk-done]")).to_contain_text("sent to Medical records.")
    # The summary takes the focus; the rows are redrawn without the three that moved, and
    # nothing stays selected.
    expect(page.locator("#bulk-summary-title")).to_be_focused()
    expect(page.locator("#rows tr[data-item-id]")).to_have_count(2)
    expect(page.locator("#rows input[data-bulk-item]:checked")).to_have_count(0)
    expect(page.locator("[data-bulk-count]")).to_have_text("none")
    page.set_viewport_size({"width": 1280, "height": 1300})  # the summary and the rows
    screenshot(page, "bulk-actions")

    assert set(WorkItem.objects.filter(queue=records).values_list("pk", flat=True)) == {
        item.pk for item in routine
    }
    assert not WorkItem.objects.filter(queue=records, pk__in=[i.pk for i in urgent]).exists()
