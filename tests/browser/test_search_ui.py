"""Search in a real browser (issue 24): a nurse finds a patient's earlier conversation by
MRN and by a word of its text, from the queue page's search box, and opens it."""

import re

from playwright.sync_api import expect

from accounts.models import Role
from inbox.models import PatientDataAccess
from routing import work_items
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.browser.pages import submit_login
from tests.inbox.factories import ConversationFactory, PatientFactory
from tests.routing.factories import routed_item


def test_a_nurse_finds_an_earlier_conversation_by_mrn_and_by_a_word(page, screenshot):
    clinic = ClinicFactory(name="Oncology - Pasadena")
    nurse = StaffFactory(username="rn.okafor", clinic=clinic, role=Role.NURSE)
    elena = PatientFactory(
        clinic=clinic, name="Elena Marquez", mrn="MRN240117", preferred_language="es"
    )
    earlier = routed_item(
        clinic,
        conversation=ConversationFactory(patient=elena),
        acuity="urgent",
        subject="Port site",
        body="The skin around my port is red and swollen since the flush on Monday.",
    )
    work_items.claim(actor=nurse, item_id=earlier.pk)
    work_items.respond(actor=nurse, item_id=earlier.pk, body="Please come in at 2 pm today.")
    work_items.close(actor=nurse, item_id=earlier.pk, reason="seen in clinic")
    routed_item(
        clinic,
        conversation=ConversationFactory(patient=elena),
        subject="Nueva pregunta",
        body="¿Puedo tomar ibuprofeno con la quimioterapia?",
    )
    for n in range(3):
        routed_item(clinic, subject=f"Refill {n}", body="I need a refill of my ondansetron.")

    submit_login(page, "rn.okafor")
    expect(page.locator("#queue-title")).to_have_text("Nurse triage")
    # The queue rows: a preview of the text, the age since receipt and the language.
    expect(page.locator("[data-preview]").first).to_be_visible()
    expect(page.locator("[data-age]").first).to_contain_text("received")

    # By MRN, from the keyboard: "/" puts the cursor in the search box.
    page.locator("body").press("/")
    expect(page.get_by_label("Search by MRN, patient name or words of a message")).to_be_focused()
    page.keyboard.type("MRN240117")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/work/search\?q=MRN240117&"))  # a bookmark
    results = page.locator("[data-queue-table] tbody tr")
    expect(results).to_have_count(2)  # both of Elena's conversations, newest first
    expect(results.nth(1)).to_contain_text("Port site")
    expect(results.nth(1)).to_contain_text("Closed")

    # By a word of its text.
    box = page.get_by_label("Search by MRN, patient name or words of a message")
    box.fill("swollen")
    box.press("Enter")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("Elena Marquez")
    expect(results.first).to_contain_text("red and swollen")
    screenshot(page, "search")

    # Opens it: the earlier thread, with the reply that was sent.
    results.first.get_by_role("link", name="Port site").click()
    expect(page.locator("#thread-title")).to_contain_text("Port site")
    expect(page.locator("main")).to_contain_text("Please come in at 2 pm today.")
    searched = PatientDataAccess.objects.filter(
        user=nurse, what=PatientDataAccess.What.SEARCH_RESULTS, patient=elena
    )
    assert searched.count() == 2  # each result page that named her
