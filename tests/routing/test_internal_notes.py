"""Internal notes: kept on the conversation, never sent (no outbox row, never in the
portal's outbox API, no webhook), refused in plain words where they may not be added."""

import pytest
from django.http import Http404

from accounts.models import Role
from inbox.models import OutgoingMessage
from routing import notes, work_items
from routing.exceptions import InvalidTarget, OutsideScopeOfPractice, WorkItemClosed
from routing.models import InternalNote, WebhookDelivery, WorkItem
from tests.accounts.factories import ClinicFactory, IntegrationFactory, StaffFactory
from tests.routing.factories import WebhookSubscriptionFactory, routed_item

pytestmark = pytest.mark.django_db

OUTBOX = "/api/v1/outgoing-messages"
NOTE = "Called the pharmacy: the refill is ready. No need to call her back."


def test_a_note_is_kept_on_the_conversation_and_changes_nothing_else():
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    item = routed_item(clinic)

    note = notes.add_internal_note(actor=nurse, item_id=item.pk, body=f"  {NOTE}  ")

    assert note.body == NOTE
    assert note.conversation_id == item.conversation_id
    assert notes.notes_of_conversation(conversation_id=item.conversation_id) == [note]
    item.refresh_from_db()
    assert item.status == WorkItem.Status.OPEN
    assert item.first_response_at is None


def test_a_note_never_reaches_the_outbox_api_nor_a_webhook(client_for):
    clinic = ClinicFactory()
    WebhookSubscriptionFactory(clinic=clinic, carries_phi=True)
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    portal = IntegrationFactory(clinic=clinic).account
    item = routed_item(clinic)
    deliveries_before = WebhookDelivery.objects.count()
    work_items.respond(actor=nurse, item_id=item.pk, body="Take it with food.")
    after_reply = WebhookDelivery.objects.count()

    notes.add_internal_note(actor=nurse, item_id=item.pk, body=NOTE)

    assert OutgoingMessage.objects.filter(body__contains="pharmacy").count() == 0
    outbox = client_for(portal).get(OUTBOX, {"clinic": clinic.slug})
    assert outbox.status_code == 200
    assert [r["body"] for r in outbox.json()["results"]] == ["Take it with food."]
    assert "pharmacy" not in outbox.content.decode()
    assert WebhookDelivery.objects.count() == after_reply >= deliveries_before
    assert not any("pharmacy" in str(d.payload) for d in WebhookDelivery.objects.all())


@pytest.mark.parametrize("role", [Role.CLERICAL, Role.MA, Role.NURSE, Role.PHYSICIAN])
def test_every_role_that_works_messages_may_add_a_note_even_on_an_urgent_item(role):
    clinic = ClinicFactory()
    item = routed_item(clinic, acuity="urgent", level="nurse")
    person = StaffFactory(clinic=clinic, role=role)
    assert notes.add_internal_note(actor=person, item_id=item.pk, body=NOTE).author == person


@pytest.mark.parametrize("role", [Role.BILLING, Role.ADMIN])
def test_billing_and_administrators_are_refused_saying_why(role):
    clinic = ClinicFactory()
    item = routed_item(clinic)
    with pytest.raises(OutsideScopeOfPractice):
        notes.add_internal_note(
            actor=StaffFactory(clinic=clinic, role=role), item_id=item.pk, body=NOTE
        )
    assert not InternalNote.objects.exists()


def test_another_clinics_item_is_not_found():
    item = routed_item(ClinicFactory())
    with pytest.raises(Http404):
        notes.add_internal_note(actor=StaffFactory(role=Role.NURSE), item_id=item.pk, body=NOTE)


@pytest.mark.parametrize(
    ("body", "reason"),
    [("   ", "A note needs text."), ("x" * 2001, "at most 2000 characters; this one has 2001")],
)
def test_an_empty_or_too_long_note_is_refused(body, reason):
    clinic = ClinicFactory()
    item = routed_item(clinic)
    with pytest.raises(InvalidTarget, match=reason):
        notes.add_internal_note(
            actor=StaffFactory(clinic=clinic, role=Role.NURSE), item_id=item.pk, body=body
        )


def test_a_closed_item_takes_no_note():
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    item = routed_item(clinic)
    work_items.close(actor=nurse, item_id=item.pk)
    with pytest.raises(WorkItemClosed, match="so no note can be added"):
        notes.add_internal_note(actor=nurse, item_id=item.pk, body=NOTE)
