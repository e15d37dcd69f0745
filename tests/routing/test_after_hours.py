"""Issue 18, part 3: an urgent message received while the clinic is closed is
acknowledged at once (office closed, call the after-hours line or 911), by clinic policy
alerts the on-call nurse, still counts business time, and is first in the morning queue."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Role
from inbox.models import Message, OutgoingMessage, PatientDataAccess
from pipeline import tasks as pipeline_tasks
from routing import selectors, services
from routing.models import (
    AutoReplyTemplate,
    BusinessHours,
    ClinicClosure,
    ClinicRouting,
    Notification,
    OnCallShift,
    WorkEvent,
    WorkItem,
)
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.inbox.factories import ConversationFactory, PatientFactory
from tests.routing.factories import classified_message

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")
FRIDAY_EVENING = datetime.datetime(2026, 11, 20, 19, 0, tzinfo=NY)
FRIDAY_MORNING = datetime.datetime(2026, 11, 20, 10, 0, tzinfo=NY)
MONDAY_0830 = datetime.datetime(2026, 11, 23, 8, 30, tzinfo=NY)
MONDAY_NOON = datetime.datetime(2026, 11, 23, 12, 0, tzinfo=NY)
LINE = "(626) 555-0199"
TOLD = "after hours: patient told to call"
RED_STREAK = {
    "subject": "Red streak on my arm",
    "body": "There is a red streak going up my arm from the port and I have a low fever.",
}


def clinic_with_hours(*, phone: str = LINE, alert_on_call: bool = False):
    """Open Monday to Friday 8:00-17:00 New York time, with its after-hours settings."""
    clinic = ClinicFactory(time_zone="America/New_York")
    for weekday in range(5):
        BusinessHours.objects.create(
            clinic=clinic, weekday=weekday, opens_at=datetime.time(8), closes_at=datetime.time(17)
        )
    ClinicRouting.objects.create(
        clinic=clinic,
        after_hours_phone=phone,
        alert_on_call_for_after_hours_urgent=alert_on_call,
    )
    return clinic


def received(clinic, at: datetime.datetime, *, acuity="urgent", language="en", conversation=None):
    """A classified message of `clinic` received at `at` (Message.created_at is the
    receipt time routing reads)."""
    conversation = conversation or ConversationFactory(
        patient=PatientFactory(clinic=clinic, preferred_language=language, on_chemotherapy=True)
    )
    message = classified_message(clinic, acuity=acuity, conversation=conversation, **RED_STREAK)
    Message.objects.filter(pk=message.pk).update(created_at=at)
    return message


def deliver_twice(message: Message) -> WorkItem:
    """classify_and_route as the broker delivers it: once, then again (already routed),
    then once more as if the first run's result had not been seen (status reset)."""
    pipeline_tasks.classify_and_route(message.pk)
    pipeline_tasks.classify_and_route(message.pk)
    Message.objects.filter(pk=message.pk).update(status=Message.Status.CLASSIFIED)
    pipeline_tasks.classify_and_route(message.pk)
    return WorkItem.objects.get(conversation_id=message.conversation_id)


def after_hours_replies(**filters):
    return OutgoingMessage.objects.filter(template=services.AFTER_HOURS_TEMPLATE, **filters)


def on_call_nurse(clinic, email="oncall@clinic.test"):
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE, email=email)
    now = timezone.now()
    OnCallShift.objects.create(
        clinic=clinic,
        clinician=nurse,
        starts_at=now - datetime.timedelta(hours=1),
        ends_at=now + datetime.timedelta(hours=8),
    )
    return nurse


# --- the acknowledgement ---------------------------------------------------------------


def test_urgent_message_on_friday_evening_is_acknowledged_once_in_spanish():
    clinic = clinic_with_hours()
    message = received(clinic, FRIDAY_EVENING, language="es")

    item = deliver_twice(message)

    reply = after_hours_replies().get()
    assert (reply.in_reply_to_id, reply.kind, reply.language) == (message.pk, "auto_reply", "es")
    assert "cerrada" in reply.body
    assert LINE in reply.body
    assert "911" in reply.body
    assert "{" not in reply.body
    assert item.after_hours_acknowledged_at is not None
    events = item.events.filter(kind=WorkEvent.Kind.AFTER_HOURS_ACKNOWLEDGED)
    assert [e.reason for e in events] == [
        "after hours: patient told to call (automatic acknowledgement, es)"
    ]
    # The clock still counts business time: due Monday at noon, not Friday night.
    assert (item.acuity, item.due_at) == ("urgent", MONDAY_NOON)


def test_in_english_the_acknowledgement_names_the_clinics_line():
    clinic = clinic_with_hours()
    services.route(message_id=received(clinic, FRIDAY_EVENING).pk)
    reply = after_hours_replies().get()
    assert reply.language == "en"
    assert "office is closed" in reply.body
    assert f"after-hours line at {LINE}" in reply.body
    assert "call 911" in reply.body


@pytest.mark.parametrize(("language", "words"), [("en", "emergency department"), ("es", "sala")])
def test_without_an_after_hours_line_the_patient_is_told_911_never_an_empty_number(language, words):
    clinic = clinic_with_hours(phone="  ")
    services.route(message_id=received(clinic, FRIDAY_EVENING, language=language).pk)
    reply = after_hours_replies().get()
    assert reply.language == language
    assert "911" in reply.body
    assert words in reply.body
    assert "{" not in reply.body
    assert "al ." not in reply.body
    assert "at ." not in reply.body


def test_a_clinics_own_wording_gets_its_line_filled_in_or_gives_way_without_one():
    clinic = clinic_with_hours()
    AutoReplyTemplate.objects.create(
        clinic=clinic,
        name="after_hours",
        language="en",
        body="Closed now. Our nurse line: {after_hours_phone}. Emergency: 911.",
    )
    services.route(message_id=received(clinic, FRIDAY_EVENING).pk)
    reply = after_hours_replies().get()
    assert reply.body == f"Closed now. Our nurse line: {LINE}. Emergency: 911."

    ClinicRouting.objects.filter(clinic=clinic).update(after_hours_phone="")
    services.route(message_id=received(clinic, FRIDAY_EVENING).pk)
    newest = after_hours_replies().latest("pk")
    assert "nearest emergency department" in newest.body
    assert "{after_hours_phone}" not in newest.body


def test_urgent_message_within_business_hours_gets_no_acknowledgement():
    clinic = clinic_with_hours(alert_on_call=True)
    on_call_nurse(clinic)
    item = services.route(message_id=received(clinic, FRIDAY_MORNING).pk)
    assert not after_hours_replies().exists()
    assert item.after_hours_acknowledged_at is None
    assert not Notification.objects.exists()


def test_routine_message_after_hours_gets_no_acknowledgement():
    clinic = clinic_with_hours(alert_on_call=True)
    on_call_nurse(clinic)
    item = services.route(message_id=received(clinic, FRIDAY_EVENING, acuity="routine").pk)
    assert not OutgoingMessage.objects.exists()
    assert item.after_hours_acknowledged_at is None
    assert not Notification.objects.exists()


def test_emergent_message_after_hours_gets_only_the_emergency_reply():
    clinic = clinic_with_hours(alert_on_call=True)
    on_call_nurse(clinic)
    item = services.route(message_id=received(clinic, FRIDAY_EVENING, acuity="emergent").pk)
    assert list(OutgoingMessage.objects.values_list("template", flat=True)) == ["emergency"]
    assert item.after_hours_acknowledged_at is None
    assert set(Notification.objects.values_list("kind", flat=True)) == {"on_call_alert"}


def test_a_closure_day_is_after_hours_and_a_clinic_without_hours_has_none():
    clinic = clinic_with_hours()
    ClinicClosure.objects.create(clinic=clinic, date=FRIDAY_MORNING.date(), reason="Flood")
    services.route(message_id=received(clinic, FRIDAY_MORNING).pk)
    assert after_hours_replies().count() == 1

    no_hours = ClinicFactory(time_zone="America/New_York")
    ClinicRouting.objects.create(clinic=no_hours, after_hours_phone=LINE)
    services.route(message_id=received(no_hours, FRIDAY_EVENING).pk)
    assert after_hours_replies(clinic=no_hours).count() == 0


def test_follow_up_raising_the_thread_to_urgent_after_hours_is_acknowledged_once_per_item():
    clinic = clinic_with_hours()
    first = received(clinic, FRIDAY_MORNING, acuity="routine")
    item = services.route(message_id=first.pk)
    assert item.after_hours_acknowledged_at is None

    conversation = first.conversation
    raising = received(clinic, FRIDAY_EVENING, conversation=conversation)
    item = services.route(message_id=raising.pk)
    assert item.acuity == "urgent"
    assert after_hours_replies().get().in_reply_to_id == raising.pk
    acknowledged_at = item.after_hours_acknowledged_at
    assert acknowledged_at is not None

    # A second urgent message the same weekend: the patient has been told already.
    saturday = FRIDAY_EVENING + datetime.timedelta(hours=14)
    item = services.route(message_id=received(clinic, saturday, conversation=conversation).pk)
    assert after_hours_replies().count() == 1
    assert item.after_hours_acknowledged_at == acknowledged_at


def test_a_routine_follow_up_in_an_urgent_thread_after_hours_is_not_acknowledged():
    # A choice: the message received after hours must be urgent itself ("thanks, any
    # news?" on Friday night does not set it off, even in a thread urgent since the day).
    clinic = clinic_with_hours()
    first = received(clinic, FRIDAY_MORNING)
    services.route(message_id=first.pk)
    item = services.route(
        message_id=received(
            clinic, FRIDAY_EVENING, acuity="routine", conversation=first.conversation
        ).pk
    )
    assert item.acuity == "urgent"
    assert item.after_hours_acknowledged_at is None
    assert not after_hours_replies().exists()


def test_an_urgent_line_in_an_emergent_thread_gets_no_after_hours_acknowledgement():
    clinic = clinic_with_hours()
    first = received(clinic, FRIDAY_EVENING, acuity="emergent")
    services.route(message_id=first.pk)
    later = FRIDAY_EVENING + datetime.timedelta(hours=1)
    item = services.route(message_id=received(clinic, later, conversation=first.conversation).pk)
    assert item.acuity == "emergent"
    assert not after_hours_replies().exists()


# --- the on-call alert ------------------------------------------------------------------


def test_on_call_nurse_is_alerted_once_when_the_clinic_says_so(
    django_capture_on_commit_callbacks,
):
    clinic = clinic_with_hours(alert_on_call=True)
    nurse = on_call_nurse(clinic)
    message = received(clinic, FRIDAY_EVENING)

    with django_capture_on_commit_callbacks(execute=True):
        item = deliver_twice(message)

    alert = Notification.objects.get()
    assert (alert.kind, alert.recipient, alert.status) == ("after_hours_alert", nurse.email, "sent")
    assert alert.work_item == item
    assert len(mail.outbox) == 1
    # No message text leaves by e-mail or webhook.
    for words in (RED_STREAK["subject"], "red streak", "fever"):
        assert words.lower() not in (alert.subject + alert.body).lower()
    assert "after hours" in alert.subject
    assert item.events.filter(reason__startswith="after-hours alert to").count() == 1


def test_on_call_nurse_is_not_alerted_when_the_clinic_does_not_ask(
    django_capture_on_commit_callbacks,
):
    clinic = clinic_with_hours(alert_on_call=False)
    on_call_nurse(clinic)
    with django_capture_on_commit_callbacks(execute=True):
        deliver_twice(received(clinic, FRIDAY_EVENING))
    assert after_hours_replies().count() == 1
    assert not Notification.objects.exists()
    assert mail.outbox == []


# --- the morning queue -----------------------------------------------------------------


def test_friday_evening_urgent_item_is_first_in_mondays_queue():
    clinic = clinic_with_hours()
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    # Monday 08:30's item is routed first on purpose (the lowest id): its due time, not the
    # order of routing, is what puts it after Friday's.
    monday_0830 = services.route(message_id=received(clinic, MONDAY_0830).pk)
    weekend_routine = services.route(
        message_id=received(clinic, FRIDAY_EVENING, acuity="routine").pk
    )
    friday = services.route(message_id=received(clinic, FRIDAY_EVENING).pk)
    sunday = services.route(
        message_id=received(clinic, FRIDAY_EVENING + datetime.timedelta(days=2)).pk
    )
    monday_0800 = services.route(message_id=received(clinic, MONDAY_0830.replace(minute=0)).pk)

    # Every urgent message of the weekend is due 4 business hours after Monday's opening,
    # like one received at the opening itself (those tie on due time and keep the order
    # they were routed in, the order they arrived); one received later is due later.
    assert friday.due_at == sunday.due_at == monday_0800.due_at == MONDAY_NOON
    assert monday_0830.due_at == MONDAY_NOON + datetime.timedelta(minutes=30)

    expected = [friday, sunday, monday_0800, monday_0830, weekend_routine]
    assert list(selectors.open_work_items(user=nurse, queue=friday.queue)) == expected
    rows, _ = selectors.queue_page(
        queue=friday.queue, user=nurse, viewed_as=PatientDataAccess.What.QUEUE_LIST
    )
    assert rows == expected


# --- staff screens and the admin ----------------------------------------------------------


def test_queue_row_and_item_page_say_the_patient_was_told_to_call(client):
    clinic = clinic_with_hours()
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    told = services.route(message_id=received(clinic, FRIDAY_EVENING).pk)
    not_told = services.route(message_id=received(clinic, FRIDAY_MORNING).pk)
    client.force_login(nurse)

    def page(url: str) -> str:
        return client.get(url).content.decode()

    assert page(f"/work/?queue={told.queue_id}").count(TOLD) == 1
    assert TOLD in page(f"/work/items/{told.pk}/")
    assert TOLD not in page(f"/work/items/{not_told.pk}/")


def test_the_after_hours_line_and_policy_are_set_in_the_clinic_routing_admin(admin_client):
    clinic = ClinicFactory()
    page = admin_client.get("/admin/routing/clinicrouting/add/").content.decode()
    assert 'name="after_hours_phone"' in page
    assert 'name="alert_on_call_for_after_hours_urgent"' in page
    response = admin_client.post(
        "/admin/routing/clinicrouting/add/",
        {
            "clinic": clinic.pk,
            "holiday_country": "US",
            "after_hours_phone": LINE,
            "alert_on_call_for_after_hours_urgent": "on",
        },
    )
    assert response.status_code == 302
    settings_row = ClinicRouting.objects.get(clinic=clinic)
    assert (settings_row.after_hours_phone, settings_row.alert_on_call_for_after_hours_urgent) == (
        LINE,
        True,
    )
