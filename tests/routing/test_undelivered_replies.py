"""A reply the portal has not confirmed in time alerts the clinic's administrators, once."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Role
from inbox.models import OutgoingMessage
from routing import sweeps, work_items
from routing.models import Notification
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.routing.factories import routed_item

pytestmark = pytest.mark.django_db


def reply_made(clinic, minutes_ago):
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    item = routed_item(clinic)
    reply = work_items.respond(actor=nurse, item_id=item.pk, body="Take it with food.")
    OutgoingMessage.objects.filter(pk=reply.pk).update(
        created_at=timezone.now() - datetime.timedelta(minutes=minutes_ago)
    )
    return item, reply


def test_an_unconfirmed_reply_alerts_the_administrators_once(
    settings, django_capture_on_commit_callbacks
):
    settings.UNDELIVERED_REPLY_ALERT_MINUTES = 15
    clinic = ClinicFactory()
    admin = StaffFactory(clinic=clinic, role=Role.ADMIN, email="admin@clinic.test")
    item, _ = reply_made(clinic, minutes_ago=20)

    with django_capture_on_commit_callbacks(execute=True):
        assert sweeps.alert_undelivered_replies() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert sweeps.alert_undelivered_replies() == 0

    alert = Notification.objects.get(kind="reply_undelivered")
    assert (alert.work_item, alert.recipient, alert.status) == (item, admin.email, "sent")
    assert [m.to for m in mail.outbox] == [[admin.email]]
    assert "not been confirmed by the patient portal after 20 minutes" in mail.outbox[0].body


def test_a_confirmed_or_recent_reply_alerts_no_one(settings, django_capture_on_commit_callbacks):
    settings.UNDELIVERED_REPLY_ALERT_MINUTES = 15
    clinic = ClinicFactory()
    StaffFactory(clinic=clinic, role=Role.ADMIN, email="admin@clinic.test")
    _, confirmed = reply_made(clinic, minutes_ago=60)
    OutgoingMessage.objects.filter(pk=confirmed.pk).update(delivered_at=timezone.now())
    reply_made(clinic, minutes_ago=5)

    with django_capture_on_commit_callbacks(execute=True):
        assert sweeps.alert_undelivered_replies() == 0
    assert not Notification.objects.filter(kind="reply_undelivered").exists()


def test_without_administrators_the_clinicians_are_told(
    settings, django_capture_on_commit_callbacks
):
    settings.UNDELIVERED_REPLY_ALERT_MINUTES = 15
    clinic = ClinicFactory()
    physician = StaffFactory(clinic=clinic, role=Role.PHYSICIAN, email="dr@clinic.test")
    reply_made(clinic, minutes_ago=30)

    with django_capture_on_commit_callbacks(execute=True):
        sweeps.alert_undelivered_replies()

    assert physician.email in {r for m in mail.outbox for r in m.to}
