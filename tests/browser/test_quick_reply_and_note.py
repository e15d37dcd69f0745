"""A nurse answers a Spanish-speaking patient with a Spanish quick reply chosen by
keyboard, edits it and sends it; then leaves an internal note for colleagues, which the
portal's outbox API never shows."""

from playwright.sync_api import expect
from rest_framework.test import APIClient

from accounts.models import Role
from inbox.models import OutgoingMessage
from routing.models import ClinicRouting, InternalNote
from tests.accounts.factories import ClinicFactory, IntegrationFactory, StaffFactory
from tests.browser.pages import submit_login
from tests.inbox.factories import ConversationFactory, PatientFactory
from tests.routing.factories import routed_item

NOTE = "Called the pharmacy: the refill is ready for pickup after 3 pm."


def test_a_nurse_answers_with_an_edited_spanish_quick_reply_and_adds_an_internal_note(
    page, screenshot
):
    clinic = ClinicFactory(name="Oncology - Pasadena", slug="onc-pasadena")
    ClinicRouting.objects.create(clinic=clinic, office_phone="626-555-0100")
    StaffFactory(
        username="rn.ruiz", clinic=clinic, role=Role.NURSE, first_name="Ana", last_name="Ruiz"
    )
    portal = IntegrationFactory(clinic=clinic).account
    patient = PatientFactory(clinic=clinic, name="María López", preferred_language="es")
    item = routed_item(
        clinic,
        conversation=ConversationFactory(patient=patient),
        subject="Resurtido de ondansetrón",
        body="Por favor, necesito un resurtido de mi ondansetrón.",
    )

    submit_login(page, "rn.ruiz")
    expect(page.locator("#queue-title")).to_be_visible()
    page.goto(f"/work/items/{item.pk}/")
    page.wait_for_function("() => document.readyState === 'complete'")
    expect(page.locator("#thread-title")).to_contain_text("Resurtido de ondansetrón")

    # The picker by keyboard: q focuses it, the arrow keys step through the templates
    # (the patient's language first), Enter takes the chosen one into the reply to edit.
    page.keyboard.press("q")
    picker = page.get_by_label("Quick reply (q)")
    expect(picker).to_be_focused()
    expect(picker.locator("optgroup").first).to_have_attribute(
        "label", "Español (patient's language)"
    )
    reply = page.get_by_label("Reply to the patient (r)")
    titles = picker.locator("optgroup").first.locator("option").all_inner_texts()
    steps = titles.index("Resurtido enviado a la farmacia") + 1
    for _ in range(steps):
        page.keyboard.press("ArrowDown")
    expect(picker).to_have_value("builtin:refill-sent-es")
    page.keyboard.press("Enter")
    expect(reply).to_be_focused()
    expect(reply).to_have_value(
        "Hola María, su solicitud de resurtido se envió a su farmacia. Espere un día hábil "
        "antes de recogerlo. Si la farmacia no lo ha recibido, llámenos al 626-555-0100."
        "\n\nAna Ruiz"
    )
    assert not OutgoingMessage.objects.exists()  # choosing a template sends nothing

    # The nurse edits it before sending: the patient's pharmacy by name.
    filled = reply.input_value()
    edited = filled.replace("a su farmacia", "a la farmacia CVS de Colorado Blvd")
    reply.fill(edited)
    screenshot(page, "quick-reply")
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator(".flash")).to_contain_text("Reply saved")
    sent = OutgoingMessage.objects.get()
    # A browser sends a textarea's line breaks as CRLF.
    assert sent.body.replace("\r\n", "\n") == edited
    assert "CVS de Colorado Blvd" in sent.body

    # An internal note beside the reply: shown apart in the thread, never sent.
    page.goto(f"/work/items/{item.pk}/")  # back to the item, whatever the after-action
    page.get_by_label("Internal note — not sent to the patient").fill(NOTE)
    page.get_by_role("button", name="Add internal note").click()
    expect(page.locator(".flash")).to_contain_text("Internal note added")
    note = page.locator("[data-internal-note]")
    expect(note).to_contain_text("Internal note — not sent to the patient")
    expect(note).to_contain_text(NOTE)
    expect(page.locator("article.msg.from-staff")).to_contain_text("CVS de Colorado Blvd")
    note.scroll_into_view_if_needed()
    screenshot(page, "internal-note")
    assert InternalNote.objects.get().body == NOTE

    # The portal's outbox API: the reply is there, the note is not.
    api = APIClient()
    api.force_authenticate(portal)
    outbox = api.get("/api/v1/outgoing-messages", {"clinic": clinic.slug})
    assert outbox.status_code == 200
    assert [r["body"] for r in outbox.json()["results"]] == [sent.body]
    assert "pharmacy" not in outbox.content.decode()
