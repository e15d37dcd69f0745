"""API v1 reads of billing: one e-visit (billing role), and the time logged on a
conversation (billing: all the time behind an e-visit; a clinician: their own)."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Role
from billing.models import EVisit, TimeEntry
from inbox.models import PatientDataAccess
from tests.accounts.factories import ClinicFactory, IntegrationFactory, StaffFactory
from tests.inbox.factories import ConversationFactory, PatientFactory

pytestmark = pytest.mark.django_db


def _evisit(clinic, conversation=None) -> EVisit:
    return EVisit.objects.create(
        clinic=clinic,
        conversation=conversation or ConversationFactory(patient=PatientFactory(clinic=clinic)),
        status=EVisit.Status.READY,
        code="99422",
        minutes=12,
        amount=Decimal("31.00"),
        window_start=timezone.now() - datetime.timedelta(days=1),
        reasons=["physician time 12 min over 7 days"],
    )


def _time(conversation, user, role, minutes) -> TimeEntry:
    now = timezone.now()
    return TimeEntry.objects.create(
        clinic=conversation.clinic,
        conversation=conversation,
        user=user,
        role=role,
        source=TimeEntry.Source.MANUAL,
        started_at=now - datetime.timedelta(minutes=minutes),
        ended_at=now,
        seconds=minutes * 60,
    )


# --- GET /api/v1/billing/evisits/<id> ------------------------------------------------------


def test_billing_reads_one_evisit_and_it_is_logged(client_for):
    clinic = ClinicFactory()
    evisit = _evisit(clinic)
    billing = StaffFactory(clinic=clinic, role=Role.BILLING)

    response = client_for(billing).get(f"/api/v1/billing/evisits/{evisit.pk}")

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["code"], body["mrn"]) == (
        evisit.pk,
        "99422",
        evisit.conversation.patient.mrn,
    )
    assert list(PatientDataAccess.objects.values_list("user", "what", "object_id")) == [
        (billing.pk, PatientDataAccess.What.EVISIT_RECORD_API, evisit.pk)
    ]


@pytest.mark.parametrize("who", ["nurse", "billing of another clinic", "integration"])
def test_anyone_but_billing_of_its_clinic_is_refused_an_evisit(client_for, who):
    clinic = ClinicFactory()
    evisit = _evisit(clinic)
    user = {
        "nurse": lambda: StaffFactory(clinic=clinic, role=Role.NURSE),
        "billing of another clinic": lambda: StaffFactory(role=Role.BILLING),
        "integration": lambda: IntegrationFactory(clinic=clinic).account,
    }[who]()

    response = client_for(user).get(f"/api/v1/billing/evisits/{evisit.pk}")

    assert response.status_code == (403 if who == "integration" else 404)
    assert not PatientDataAccess.objects.exists()


# --- GET /api/v1/time-entries?conversation= ------------------------------------------------


@pytest.fixture
def logged():
    clinic = ClinicFactory()
    conversation = ConversationFactory(patient=PatientFactory(clinic=clinic))
    physician = StaffFactory(clinic=clinic, role=Role.PHYSICIAN)
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    entries = {
        "physician": _time(conversation, physician, Role.PHYSICIAN, 7),
        "nurse": _time(conversation, nurse, Role.NURSE, 4),
    }
    return clinic, conversation, physician, nurse, entries


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_billing_sees_all_the_time_behind_an_evisit(client_for, logged):
    clinic, conversation, _, _, entries = logged
    billing = client_for(StaffFactory(clinic=clinic, role=Role.BILLING))
    url = f"/api/v1/time-entries?conversation={conversation.pk}"

    assert billing.get(url).status_code == 404  # no e-visit yet: not billing's business
    _evisit(clinic, conversation)
    assert _ids(billing.get(url)) == [entries["physician"].pk, entries["nurse"].pk]


def test_a_clinician_sees_only_their_own_time(client_for, logged):
    _, conversation, physician, nurse, entries = logged
    url = f"/api/v1/time-entries?conversation={conversation.pk}"

    assert _ids(client_for(physician).get(url)) == [entries["physician"].pk]
    assert _ids(client_for(nurse).get(url)) == [entries["nurse"].pk]


def test_time_is_refused_to_administrators_and_other_clinics(client_for, logged):
    clinic, conversation, *_ = logged
    _evisit(clinic, conversation)
    url = f"/api/v1/time-entries?conversation={conversation.pk}"

    admin = client_for(StaffFactory(clinic=clinic, role=Role.ADMIN)).get(url)
    outsider = client_for(StaffFactory(role=Role.BILLING)).get(url)

    assert (admin.status_code, admin.json()["code"]) == (403, "outside_scope_of_practice")
    assert outsider.status_code == 404


@pytest.mark.parametrize("query", ["", "?conversation=abc", "?conversation=0"])
def test_time_entries_need_a_conversation_id(client_for, logged, query):
    *_, nurse, _ = logged
    response = client_for(nurse).get(f"/api/v1/time-entries{query}")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["conversation"]
