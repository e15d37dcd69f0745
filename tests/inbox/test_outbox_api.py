"""The portal collects replies from the outbox and confirms each one; until it does, a
reply stays in the outbox and the staff screen says it is not delivered."""

import pytest

from accounts.models import Role
from inbox.models import PatientDataAccess
from routing import work_items
from tests.accounts.factories import ClinicFactory, IntegrationFactory, StaffFactory
from tests.inbox.factories import ConversationFactory
from tests.routing.factories import routed_item

pytestmark = pytest.mark.django_db

OUTBOX = "/api/v1/outgoing-messages"


def replied_item(clinic, nurse, text="Take it with food; call us if it gets worse."):
    item = routed_item(clinic)
    reply = work_items.respond(actor=nurse, item_id=item.pk, body=text)
    return item, reply


def test_a_staff_reply_waits_in_the_outbox_until_the_portal_confirms_it(client_for):
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE, first_name="Ana", last_name="Ruiz")
    portal = IntegrationFactory(clinic=clinic).account
    item, reply = replied_item(clinic, nurse)
    api = client_for(portal)

    waiting = api.get(OUTBOX, {"clinic": clinic.slug}).json()["results"]

    assert [r["id"] for r in waiting] == [reply.pk]
    assert waiting[0] | {"created_at": None} == {
        "id": reply.pk,
        "clinic": clinic.slug,
        "kind": "staff_reply",
        "conversation_id": item.conversation.external_id,
        "patient_mrn": item.conversation.patient.mrn,
        "in_reply_to": item.message.external_id,
        "language": "en",
        "body": "Take it with food; call us if it gets worse.",
        "author": "Ana Ruiz",
        "created_at": None,
        "delivered_at": None,
    }

    confirmed = api.post(f"{OUTBOX}/{reply.pk}/delivered")
    assert confirmed.status_code == 200
    delivered_at = confirmed.json()["delivered_at"]
    assert delivered_at is not None
    assert api.get(OUTBOX, {"clinic": clinic.slug}).json()["results"] == []

    again = api.post(f"{OUTBOX}/{reply.pk}/delivered")
    assert again.status_code == 200
    assert again.json()["delivered_at"] == delivered_at


def test_the_outbox_pages_oldest_first_without_skipping_a_reply(client_for):
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    replies = [replied_item(clinic, nurse, f"Answer {n}")[1] for n in range(3)]
    api = client_for(IntegrationFactory(clinic=clinic).account)

    first = api.get(OUTBOX, {"clinic": clinic.slug, "page_size": 2}).json()
    second = api.get(first["next"]).json()

    assert [r["id"] for r in first["results"] + second["results"]] == [r.pk for r in replies]
    assert second["next"] is None


def test_another_clinics_outbox_and_replies_are_not_found(client_for):
    clinic, other = ClinicFactory(), ClinicFactory()
    _, their_reply = replied_item(other, StaffFactory(clinic=other, role=Role.NURSE))
    outsider = IntegrationFactory(clinic=clinic).account
    api = client_for(outsider)

    assert api.get(OUTBOX, {"clinic": other.slug}).status_code == 404
    assert api.post(f"{OUTBOX}/{their_reply.pk}/delivered").status_code == 404
    their_reply.refresh_from_db()
    assert their_reply.delivered_at is None


def test_the_outbox_needs_a_clinic(client_for):
    response = client_for(IntegrationFactory().account).get(OUTBOX)
    assert response.status_code == 400
    assert "clinic" in response.json()["errors"]


def test_the_message_page_says_whether_the_patient_has_the_reply(client, client_for):
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    item, reply = replied_item(clinic, nurse)
    client.force_login(nurse)

    page = client.get(f"/work/items/{item.pk}/").content.decode()
    assert "Not yet delivered: waiting for the portal to collect it" in page

    client_for(IntegrationFactory(clinic=clinic).account).post(f"{OUTBOX}/{reply.pk}/delivered")
    page = client.get(f"/work/items/{item.pk}/").content.decode()
    assert "Delivered to the portal" in page
    assert "Not yet delivered" not in page


def test_replies_the_portal_collects_are_written_to_the_access_log(client_for):
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    portal = IntegrationFactory(clinic=clinic).account
    item, first = replied_item(clinic, nurse, "First answer")
    patient = item.conversation.patient
    same_patient = routed_item(clinic, conversation=ConversationFactory(patient=patient))
    second = work_items.respond(actor=nurse, item_id=same_patient.pk, body="Second answer")
    _, later = replied_item(clinic, nurse)  # another patient, on the next page
    api = client_for(portal)

    page = api.get(OUTBOX, {"clinic": clinic.slug, "page_size": 2}).json()

    assert [r["id"] for r in page["results"]] == [first.pk, second.pk]
    access = PatientDataAccess.objects.get()  # one patient on the page: one row
    assert (access.user, access.patient, access.what, access.object_id) == (
        portal,
        patient,
        "portal_replies",
        first.pk,
    )

    assert api.post(f"{OUTBOX}/{later.pk}/delivered").status_code == 200

    access = PatientDataAccess.objects.latest("pk")
    assert (access.patient, access.object_id) == (later.conversation.patient, later.pk)
    assert PatientDataAccess.objects.count() == 2


def test_a_refused_outbox_writes_nothing_to_the_access_log(client_for):
    other = ClinicFactory()
    _, their_reply = replied_item(other, StaffFactory(clinic=other, role=Role.NURSE))
    api = client_for(IntegrationFactory(clinic=ClinicFactory()).account)

    assert api.get(OUTBOX, {"clinic": other.slug}).status_code == 404
    assert api.post(f"{OUTBOX}/{their_reply.pk}/delivered").status_code == 404

    assert not PatientDataAccess.objects.exists()


@pytest.mark.parametrize("role", list(Role))
def test_staff_may_not_collect_or_confirm_replies(client_for, role):
    clinic = ClinicFactory()
    _, reply = replied_item(clinic, StaffFactory(clinic=clinic, role=Role.NURSE))
    api = client_for(StaffFactory(clinic=clinic, role=role))

    listed = api.get(OUTBOX, {"clinic": clinic.slug})
    confirmed = api.post(f"{OUTBOX}/{reply.pk}/delivered")

    assert listed.status_code == confirmed.status_code == 403
    assert "integration token" in confirmed.json()["detail"]
    reply.refresh_from_db()
    assert reply.delivered_at is None
    assert not PatientDataAccess.objects.exists()
