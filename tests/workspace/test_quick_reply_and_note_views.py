"""The work item page's quick-reply picker and internal notes through the test client:
what is offered, that nothing is sent until the person sends it, and that a note is
shown apart in the thread, never in the portal's outbox."""

import re

import pytest

from accounts.models import Role
from inbox.models import OutgoingMessage, PatientDataAccess
from routing.models import ClinicRouting, InternalNote
from tests.accounts.factories import ClinicFactory, IntegrationFactory, StaffFactory
from tests.inbox.factories import ConversationFactory, PatientFactory
from tests.routing.factories import routed_item

pytestmark = pytest.mark.django_db

NOTE_LABEL = "Internal note — not sent to the patient"


def spanish_item(clinic, **kwargs):
    patient = PatientFactory(clinic=clinic, name="María López", preferred_language="es")
    return routed_item(clinic, conversation=ConversationFactory(patient=patient), **kwargs)


def test_the_picker_offers_spanish_first_filled_in_and_sends_nothing(client):
    clinic = ClinicFactory()
    ClinicRouting.objects.create(clinic=clinic, office_phone="626-555-0100")
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE, first_name="Rosa", last_name="Kim")
    item = spanish_item(clinic)
    client.force_login(nurse)

    page = client.get(f"/work/items/{item.pk}/").content.decode()

    assert '<label for="quick-reply">Quick reply (q)</label>' in page
    picker = page[
        page.index('id="quick-reply"') : page.index("</select>", page.index('id="quick-reply"'))
    ]
    groups = re.findall(r'<optgroup label="([^"]+)">', picker)
    assert groups == ["Español (patient&#x27;s language)", "English"]
    assert "Hola María, su solicitud de resurtido" in page
    assert "626-555-0100" in page
    assert not OutgoingMessage.objects.exists()  # the page sends nothing by itself


def test_a_role_that_may_not_reply_sees_no_picker_but_may_add_a_note(client):
    clinic = ClinicFactory()
    clerk = StaffFactory(clinic=clinic, role=Role.CLERICAL)
    item = spanish_item(clinic, acuity="urgent", level="nurse")
    client.force_login(clerk)

    page = client.get(f"/work/items/{item.pk}/").content.decode()

    assert 'id="quick-reply"' not in page
    assert f'<label for="note-body">{NOTE_LABEL}</label>' in page


def test_a_note_is_added_shown_apart_in_the_thread_and_kept_out_of_the_outbox(client, client_for):
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    portal = IntegrationFactory(clinic=clinic).account
    item = spanish_item(clinic, subject="Resurtido", body="Necesito mi medicina.")
    client.force_login(nurse)

    response = client.post(
        f"/work/items/{item.pk}/note", {"note": "Pharmacy confirmed: ready at 3 pm."}, follow=True
    )

    page = response.content.decode()
    assert "Internal note added. It is for colleagues only" in page
    assert 'class="msg internal-note" data-internal-note' in page
    assert page.index("Necesito mi medicina.") < page.index("Pharmacy confirmed: ready at 3 pm.")
    assert InternalNote.objects.get().author == nurse
    outbox = client_for(portal).get("/api/v1/outgoing-messages", {"clinic": clinic.slug})
    assert outbox.json()["results"] == []
    # The page showing the note is a message thread view, logged like any other.
    assert PatientDataAccess.objects.filter(
        user=nurse, what=PatientDataAccess.What.MESSAGE_THREAD
    ).exists()


def test_an_empty_note_is_refused_with_a_plain_message(client):
    clinic = ClinicFactory()
    item = spanish_item(clinic)
    client.force_login(StaffFactory(clinic=clinic, role=Role.NURSE))
    page = client.post(f"/work/items/{item.pk}/note", {"note": " "}, follow=True).content.decode()
    assert "A note needs text." in page
    assert not InternalNote.objects.exists()


def test_billing_is_refused_a_note_saying_why(client):
    clinic = ClinicFactory()
    item = spanish_item(clinic)
    client.force_login(StaffFactory(clinic=clinic, role=Role.BILLING))
    response = client.post(f"/work/items/{item.pk}/note", {"note": "hello"})
    assert response.status_code == 403
    assert not InternalNote.objects.exists()


def test_the_keyboard_help_names_the_quick_reply_key(client):
    clinic = ClinicFactory()
    client.force_login(StaffFactory(clinic=clinic, role=Role.NURSE))
    page = client.get(f"/work/items/{spanish_item(clinic).pk}/").content.decode()
    assert "<dt>q</dt><dd>choose a quick reply" in page
