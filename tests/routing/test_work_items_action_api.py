"""POST /api/v1/work-items/<id>/{claim,reply,close,reopen,reassign}: thin endpoints over
routing.work_items. 200 with the item as it now stands; a refusal answers its code and
reason (403 outside the scope of practice, 409 closed); another clinic's item 404."""

import pytest

from accounts.models import Role
from inbox.models import OutgoingMessage
from routing import work_items
from routing.models import WorkEvent, WorkItem
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.routing.test_work_items_scope import make_item, snapshot

pytestmark = pytest.mark.django_db

ACTIONS = ["claim", "reply", "close", "reopen", "reassign"]
BODIES = {
    "claim": {},
    "reply": {"body": "Please come in on Tuesday."},
    "close": {},
    "reopen": {"reason": "lab result came back"},
    "reassign": {"reason": "needs a nurse", "role": "nurse"},
}


def url(item: WorkItem, action: str) -> str:
    return f"/api/v1/work-items/{item.pk}/{action}"


@pytest.fixture
def clinic():
    return ClinicFactory()


def test_a_nurse_claims_replies_and_closes_then_reopens(clinic, client_for):
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    item = make_item(clinic, level="nurse", acuity="urgent")
    api = client_for(nurse)

    claimed = api.post(url(item, "claim"), format="json")
    assert claimed.status_code == 200
    assert claimed.json() == {
        "id": item.pk,
        "status": "claimed",
        "queue": item.queue_id,
        "acuity": "urgent",
        "service_level": "nurse",
        "claimed_by": nurse.username,
        "closed_at": None,
        "closed_by": None,
    }

    replied = api.post(url(item, "reply"), BODIES["reply"], format="json")
    assert (replied.status_code, replied.json()["status"]) == (200, "responded")
    assert OutgoingMessage.objects.get(conversation=item.conversation).body == (
        "Please come in on Tuesday."
    )

    closed = api.post(url(item, "close"), {"reason": "answered"}, format="json")
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"
    assert closed.json()["closed_by"] == nurse.username
    assert closed.json()["closed_at"] is not None

    reopened = api.post(url(item, "reopen"), BODIES["reopen"], format="json")
    assert reopened.status_code == 200
    assert reopened.json() | {"id": None} == {
        "id": None,
        "status": "open",
        "queue": item.queue_id,
        "acuity": "urgent",
        "service_level": "nurse",
        "claimed_by": None,
        "closed_at": None,
        "closed_by": None,
    }
    assert item.events.filter(kind=WorkEvent.Kind.REOPENED, actor=nurse).exists()


def test_reassign_to_a_role_queue_or_person(clinic, client_for):
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    physician = StaffFactory(clinic=clinic, role=Role.PHYSICIAN)
    item = make_item(clinic, level="clerical", acuity="routine")
    api = client_for(nurse)

    to_role = api.post(url(item, "reassign"), BODIES["reassign"], format="json")
    assert (to_role.status_code, to_role.json()["service_level"]) == (200, "nurse")

    to_person = api.post(
        url(item, "reassign"), {"reason": "dose", "person_id": physician.pk}, format="json"
    )
    assert to_person.status_code == 200
    assert (to_person.json()["claimed_by"], to_person.json()["service_level"]) == (
        physician.username,
        "physician",
    )

    clerical_queue = make_item(clinic, level="clerical", acuity="routine").queue
    to_queue = api.post(
        url(item, "reassign"),
        {"reason": "scheduling", "queue_id": clerical_queue.pk},
        format="json",
    )
    assert (to_queue.status_code, to_queue.json()["queue"]) == (200, clerical_queue.pk)


@pytest.mark.parametrize("action", ["claim", "reply", "close"])
def test_outside_the_scope_of_practice_is_403_with_the_reason(clinic, client_for, action):
    clerk = StaffFactory(clinic=clinic, role=Role.CLERICAL)
    item = make_item(clinic, level="clerical", acuity="urgent")
    before = snapshot(item)

    response = client_for(clerk).post(url(item, action), BODIES[action], format="json")

    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "outside_scope_of_practice"
    verb = {"claim": "claim", "reply": "reply to", "close": "close"}[action]
    assert body["detail"] == (
        f"A clerical role may not {verb} an urgent clerical-level message: a nurse or "
        "physician must. Send it to nurse triage."
    )
    assert snapshot(item) == before


def test_sending_it_to_nurse_triage_is_allowed_to_anyone(clinic, client_for):
    clerk = StaffFactory(clinic=clinic, role=Role.CLERICAL)
    item = make_item(clinic, level="clerical", acuity="urgent")

    response = client_for(clerk).post(
        url(item, "reassign"), {"reason": "outside my scope", "role": "nurse"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["service_level"] == "nurse"


def test_reopen_by_a_clerk_is_403(clinic, client_for):
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    clerk = StaffFactory(clinic=clinic, role=Role.CLERICAL)
    item = make_item(clinic, level="clerical", acuity="routine")
    work_items.close(actor=nurse, item_id=item.pk)

    response = client_for(clerk).post(url(item, "reopen"), BODIES["reopen"], format="json")

    assert response.status_code == 403
    assert response.json() == {
        "code": "outside_scope_of_practice",
        "detail": "A clerical role may not reopen a closed message: a nurse or physician must.",
    }


@pytest.mark.parametrize("action", ["claim", "reply", "close", "reassign"])
def test_every_action_on_a_closed_item_but_reopen_is_409(clinic, client_for, action):
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    item = make_item(clinic, level="nurse", acuity="routine")
    work_items.close(actor=nurse, item_id=item.pk)
    before = snapshot(item)

    response = client_for(nurse).post(url(item, action), BODIES[action], format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "work_item_closed"
    assert "closed" in response.json()["detail"]
    assert snapshot(item) == before


@pytest.mark.parametrize("action", ACTIONS)
def test_another_clinics_item_is_404(clinic, client_for, action):
    theirs = make_item(ClinicFactory(), level="nurse", acuity="routine")
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    before = snapshot(theirs)

    response = client_for(nurse).post(url(theirs, action), BODIES[action], format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert snapshot(theirs) == before


def test_missing_fields_are_400(clinic, client_for):
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    item = make_item(clinic, level="nurse", acuity="routine")
    api = client_for(nurse)

    assert api.post(url(item, "reply"), {}, format="json").json()["code"] == "invalid"
    assert api.post(url(item, "reassign"), {"role": "ma"}, format="json").status_code == 400
    blank = api.post(url(item, "reply"), {"body": "  "}, format="json")
    assert (blank.status_code, blank.json()["code"]) == (400, "invalid_target")
    work_items.close(actor=nurse, item_id=item.pk)
    no_reason = api.post(url(item, "reopen"), {"reason": ""}, format="json")
    assert (no_reason.status_code, no_reason.json()["detail"]) == (
        400,
        "Reopening needs a reason.",
    )


def test_signed_out_is_refused(clinic, client):
    item = make_item(clinic, level="nurse", acuity="routine")
    assert client.post(url(item, "claim")).status_code in (401, 403)
    assert WorkItem.objects.get(pk=item.pk).status == "open"
