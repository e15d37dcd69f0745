"""Messages not routed in time alert the clinic's administrators, once, without PHI."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Role
from inbox.models import Message
from routing import sweeps
from routing.models import Notification
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.inbox.factories import MessageFactory

pytestmark = pytest.mark.django_db

BODY = "My chest hurts and my left arm is numb"


def stored(clinic, *, minutes_ago: int, status: str = Message.Status.RECEIVED) -> Message:
    message = MessageFactory(conversation__patient__clinic=clinic, body=BODY)
    Message.objects.filter(pk=message.pk).update(
        status=status, created_at=timezone.now() - datetime.timedelta(minutes=minutes_ago)
    )
    return message


def sweep(now=None) -> int:
    return sweeps.alert_unrouted_messages(now=now)


def test_unrouted_messages_alert_the_administrators_once_without_phi(
    settings, django_capture_on_commit_callbacks
):
    settings.UNROUTED_ALERT_MINUTES = 10
    clinic = ClinicFactory()
    admin = StaffFactory(clinic=clinic, role=Role.ADMIN, email="admin@clinic.test")
    stored(clinic, minutes_ago=25)
    stored(clinic, minutes_ago=12, status=Message.Status.CLASSIFIED)
    stored(clinic, minutes_ago=2)  # not late yet

    with django_capture_on_commit_callbacks(execute=True):
        assert sweep() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep() == 0

    alert = Notification.objects.get(kind="messages_unrouted")
    assert (alert.work_item, alert.recipient, alert.status) == (None, admin.email, "sent")
    assert [m.to for m in mail.outbox] == [[admin.email]]
    assert mail.outbox[0].subject == "2 patient messages not routed for 25 min"
    assert "the oldest has waited 25 minutes" in mail.outbox[0].body
    assert BODY not in mail.outbox[0].body
    assert "MRN" not in mail.outbox[0].body


def test_routed_or_recent_messages_alert_no_one(settings):
    settings.UNROUTED_ALERT_MINUTES = 10
    clinic = ClinicFactory()
    StaffFactory(clinic=clinic, role=Role.ADMIN, email="admin@clinic.test")
    stored(clinic, minutes_ago=30, status=Message.Status.ROUTED)
    stored(clinic, minutes_ago=5)

    assert sweep() == 0
    assert not Notification.objects.exists()


def test_newly_late_messages_alert_again_only_after_the_threshold(settings):
    settings.UNROUTED_ALERT_MINUTES = 10
    clinic = ClinicFactory()
    StaffFactory(clinic=clinic, role=Role.ADMIN, email="admin@clinic.test")
    stored(clinic, minutes_ago=15)
    now = timezone.now()
    assert sweep(now) == 1

    stored(clinic, minutes_ago=11)  # another one late, during the same outage
    assert sweep(now + datetime.timedelta(minutes=1)) == 0  # not one alert per sweep
    assert sweep(now + datetime.timedelta(minutes=11)) == 1
    assert Notification.objects.filter(kind="messages_unrouted").count() == 2


def test_each_clinic_hears_only_about_its_own_messages(settings):
    settings.UNROUTED_ALERT_MINUTES = 10
    late_clinic, calm_clinic = ClinicFactory(), ClinicFactory()
    StaffFactory(clinic=late_clinic, role=Role.ADMIN, email="late@clinic.test")
    StaffFactory(clinic=calm_clinic, role=Role.ADMIN, email="calm@clinic.test")
    stored(late_clinic, minutes_ago=20)
    stored(calm_clinic, minutes_ago=1)

    assert sweep() == 1
    assert list(Notification.objects.values_list("clinic_id", "recipient")) == [
        (late_clinic.pk, "late@clinic.test")
    ]
