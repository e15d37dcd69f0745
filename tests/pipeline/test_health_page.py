"""The system health page: the readiness checks and each administered clinic's unrouted
messages, for clinic administrators only, with counts and ages and no patient data."""

import datetime

import pytest
from django.utils import timezone

from accounts.models import Role
from inbox.models import Message
from tests.accounts.factories import ClinicFactory, StaffFactory, UserFactory
from tests.inbox.factories import MessageFactory

pytestmark = pytest.mark.django_db


def waiting(clinic, minutes_ago: int, body="I have chest pain since this morning"):
    message = MessageFactory(conversation__clinic=clinic, body=body)
    Message.objects.filter(pk=message.pk).update(
        created_at=timezone.now() - datetime.timedelta(minutes=minutes_ago)
    )
    return message


def test_an_administrator_sees_their_clinics_backlog_and_no_patient(
    client, settings, active_model_version
):
    settings.UNROUTED_ALERT_MINUTES = 10
    clinic, other = ClinicFactory(name="Oncology"), ClinicFactory(name="Elsewhere")
    late = waiting(clinic, minutes_ago=25)
    waiting(clinic, minutes_ago=1)
    waiting(other, minutes_ago=3)
    client.force_login(StaffFactory(clinic=clinic, role=Role.ADMIN))

    response = client.get("/health/")
    page = response.content.decode()

    assert response.status_code == 503  # a message older than the threshold is waiting
    assert "Oncology" in page
    assert "Elsewhere" not in page
    assert "(late)" in page
    assert late.body not in page
    assert late.conversation.patient.name not in page
    assert "no-store" in response["Cache-Control"]


def test_a_clinic_with_nothing_waiting_reads_zero(client, active_model_version):
    clinic = ClinicFactory(name="Quiet clinic")
    client.force_login(StaffFactory(clinic=clinic, role=Role.ADMIN))

    response = client.get("/health/")

    assert response.status_code == 200
    assert response.context["backlogs"][0].count == 0


def test_a_superuser_sees_every_clinic(client, active_model_version):
    ClinicFactory(name="First"), ClinicFactory(name="Second")
    client.force_login(UserFactory(is_superuser=True, is_staff=True))

    backlogs = client.get("/health/").context["backlogs"]

    assert {b.clinic for b in backlogs} >= {"First", "Second"}


@pytest.mark.parametrize("role", [Role.CLERICAL, Role.MA, Role.NURSE, Role.PHYSICIAN, Role.BILLING])
def test_anyone_else_is_refused_with_the_reason(client, role):
    client.force_login(StaffFactory(role=role))

    response = client.get("/health/")

    assert response.status_code == 403
    assert "for clinic administrators" in response.content.decode()
