"""API v1 reads of routing: work items (filtered list, one item), messages (one, a
conversation's), queues and routing rules. Each by the same rules as the screens: another
clinic's object 404, a role that does not read threads 403 with the reason, every answer
that shows a patient written to the access log."""

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.services import issue_api_token
from inbox.models import PatientDataAccess
from routing.models import WorkItem
from routing.services import ensure_default_queues
from tests.accounts.factories import (
    ClinicFactory,
    IntegrationFactory,
    MembershipFactory,
    StaffFactory,
)
from tests.inbox.factories import ConversationFactory, MessageFactory, PatientFactory
from tests.routing.factories import RoutingRuleFactory
from triage.ml.labels import ACUITY_RANK, Acuity

pytestmark = pytest.mark.django_db

What = PatientDataAccess.What


def _item(queue, *, acuity="routine", due_in=60, status=WorkItem.Status.OPEN, claimed_by=None):
    message = MessageFactory(conversation__patient__clinic=queue.clinic)
    return WorkItem.objects.create(
        clinic=queue.clinic,
        conversation=message.conversation,
        message=message,
        queue=queue,
        acuity=acuity,
        acuity_rank=ACUITY_RANK[Acuity(acuity)],
        service_level=queue.role,
        status=WorkItem.Status.CLAIMED if claimed_by else status,
        claimed_by=claimed_by,
        claimed_at=timezone.now() if claimed_by else None,
        due_at=timezone.now() + datetime.timedelta(minutes=due_in),
    )


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def _bearer(user, scopes) -> APIClient:
    _, token = issue_api_token(user=user, created_by=None, scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def clinic():
    clinic = ClinicFactory()
    clinic.queues_by_role = ensure_default_queues(clinic=clinic)
    return clinic


# --- GET /api/v1/work-items: filters -------------------------------------------------------


def test_work_items_filter_by_acuity_status_and_due(clinic, client_for):
    nurse_pool = clinic.queues_by_role[Role.NURSE]
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    urgent_soon = _item(nurse_pool, acuity="urgent", due_in=30)
    urgent_late = _item(nurse_pool, acuity="urgent", due_in=600)
    routine = _item(nurse_pool, acuity="routine", due_in=60)
    held = _item(nurse_pool, acuity="routine", due_in=90, claimed_by=nurse)
    closed = _item(nurse_pool, acuity="urgent", due_in=10, status=WorkItem.Status.CLOSED)
    api = client_for(nurse)
    in_two_hours = (timezone.now() + datetime.timedelta(hours=2)).isoformat()

    assert _ids(api.get("/api/v1/work-items")) == [
        urgent_soon.pk,
        urgent_late.pk,
        routine.pk,
        held.pk,
    ]
    assert _ids(api.get("/api/v1/work-items", {"acuity": "urgent"})) == [
        urgent_soon.pk,
        urgent_late.pk,
    ]
    assert _ids(api.get("/api/v1/work-items", {"status": "closed"})) == [closed.pk]
    assert _ids(api.get("/api/v1/work-items", {"status": "claimed"})) == [held.pk]
    assert _ids(api.get("/api/v1/work-items", {"due_before": in_two_hours})) == [
        urgent_soon.pk,
        routine.pk,
        held.pk,
    ]
    assert _ids(api.get("/api/v1/work-items", {"due_after": in_two_hours, "acuity": "urgent"})) == [
        urgent_late.pk
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"acuity": "catastrophic"}, "acuity"),
        ({"status": "lost"}, "status"),
        ({"due_before": "next tuesday"}, "due_before"),
        ({"due_after": "2026-13-45T99:00"}, "due_after"),
        ({"queue": "1.5"}, "queue"),
        ({"queue": "99999999999999999999"}, "queue"),
    ],
)
def test_a_bad_filter_value_is_400_in_the_one_error_shape(clinic, client_for, query, field):
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)

    response = client_for(nurse).get("/api/v1/work-items", query)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["errors"]) == [field]


def test_work_items_filter_by_queue_of_another_clinic_is_404(clinic, client_for):
    theirs = ensure_default_queues(clinic=ClinicFactory())[Role.NURSE]
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    assert client_for(nurse).get("/api/v1/work-items", {"queue": theirs.pk}).status_code == 404


def test_work_items_pages_follow_the_cursor_without_repeats(clinic, client_for):
    nurse_pool = clinic.queues_by_role[Role.NURSE]
    items = [_item(nurse_pool, due_in=10 + minute) for minute in range(5)]
    api = client_for(StaffFactory(clinic=clinic, role=Role.NURSE))

    seen, url = [], "/api/v1/work-items?page_size=2"
    while url:
        page = api.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]

    assert seen == [item.pk for item in items]


# --- GET /api/v1/work-items/<id> -----------------------------------------------------------


def test_one_work_item_shows_its_message_and_is_logged(clinic, client_for):
    item = _item(clinic.queues_by_role[Role.MA], acuity="routine")
    ma = StaffFactory(clinic=clinic, role=Role.MA)

    response = client_for(ma).get(f"/api/v1/work-items/{item.pk}")

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["body"], body["patient_mrn"]) == (
        item.pk,
        item.message.body,
        item.conversation.patient.mrn,
    )
    assert body["conversation_id"] == item.conversation.external_id
    assert list(PatientDataAccess.objects.values_list("user", "patient", "what", "object_id")) == [
        (ma.pk, item.conversation.patient_id, What.WORK_ITEM_API, item.pk)
    ]


@pytest.mark.parametrize(("role", "status"), [(Role.BILLING, 403), (Role.ADMIN, 403)])
def test_one_work_item_is_refused_to_roles_that_read_no_threads(clinic, client_for, role, status):
    item = _item(clinic.queues_by_role[Role.NURSE])
    response = client_for(StaffFactory(clinic=clinic, role=role)).get(
        f"/api/v1/work-items/{item.pk}"
    )
    assert response.status_code == status
    assert response.json()["code"] == "outside_scope_of_practice"
    assert not PatientDataAccess.objects.exists()


def test_one_work_item_of_another_clinic_is_404_and_logs_nothing(clinic, client_for):
    item = _item(clinic.queues_by_role[Role.NURSE])
    outsider = StaffFactory(role=Role.NURSE)  # another clinic
    assert client_for(outsider).get(f"/api/v1/work-items/{item.pk}").status_code == 404
    assert not PatientDataAccess.objects.exists()


# --- GET /api/v1/messages/<id> and ?conversation_id= ---------------------------------------


def _thread(clinic, *, external_id="conv-1", count=3):
    conversation = ConversationFactory(
        patient=PatientFactory(clinic=clinic), external_id=external_id
    )
    return conversation, [MessageFactory(conversation=conversation) for _ in range(count)]


def test_the_clinic_integration_reads_a_message_and_a_conversation(clinic, client_for):
    conversation, messages = _thread(clinic)
    portal = IntegrationFactory(clinic=clinic).account
    api = client_for(portal)

    one = api.get(f"/api/v1/messages/{messages[1].pk}")
    page = api.get("/api/v1/messages", {"conversation_id": "conv-1", "page_size": 2})

    assert one.status_code == 200
    assert one.json()["body"] == messages[1].body
    assert _ids(page) == [messages[0].pk, messages[1].pk]
    assert page.json()["next"]
    patient = conversation.patient_id
    assert sorted(PatientDataAccess.objects.values_list("what", "object_id", "patient")) == sorted(
        [
            (What.MESSAGE_API, messages[1].pk, patient),
            (What.MESSAGE_LIST_API, messages[0].pk, patient),
        ]
    )


def test_another_clinics_integration_gets_404_for_its_message_and_conversation(clinic, client_for):
    _, messages = _thread(clinic)
    theirs = client_for(IntegrationFactory().account)  # a portal of another clinic

    assert theirs.get(f"/api/v1/messages/{messages[0].pk}").status_code == 404
    assert theirs.get("/api/v1/messages", {"conversation_id": "conv-1"}).status_code == 404
    assert not PatientDataAccess.objects.exists()


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.CLERICAL, 200), (Role.PHYSICIAN, 200), (Role.BILLING, 403), (Role.ADMIN, 403)],
)
def test_staff_read_messages_as_they_read_threads(clinic, client_for, role, status):
    _, messages = _thread(clinic)
    api = client_for(StaffFactory(clinic=clinic, role=role))

    assert api.get(f"/api/v1/messages/{messages[0].pk}").status_code == status
    assert api.get("/api/v1/messages", {"conversation_id": "conv-1"}).status_code == status


def test_listing_messages_needs_a_conversation_id(clinic, client_for):
    api = client_for(StaffFactory(clinic=clinic, role=Role.NURSE))
    response = api.get("/api/v1/messages")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["conversation_id"]


def test_a_conversation_id_in_two_of_my_clinics_asks_for_the_clinic(clinic, client_for):
    other = ClinicFactory()
    _thread(clinic, count=1)
    _, theirs = _thread(other, count=1)
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    MembershipFactory(user=nurse, clinic=other, role=Role.NURSE)
    api = client_for(nurse)

    ambiguous = api.get("/api/v1/messages", {"conversation_id": "conv-1"})
    named = api.get("/api/v1/messages", {"conversation_id": "conv-1", "clinic": other.slug})

    assert (ambiguous.status_code, ambiguous.json()["code"]) == (400, "ambiguous_conversation")
    assert _ids(named) == [theirs[0].pk]


def test_posting_a_message_stays_the_integrations_job(clinic, client_for):
    response = client_for(StaffFactory(clinic=clinic, role=Role.NURSE)).post(
        "/api/v1/messages", {}, format="json"
    )
    assert response.status_code == 403


def test_a_token_needs_messages_read_to_read_messages(clinic):
    _, messages = _thread(clinic, count=1)
    portal = IntegrationFactory(clinic=clinic).account
    url = f"/api/v1/messages/{messages[0].pk}"

    assert _bearer(portal, ["messages:write"]).get(url).status_code == 403
    assert _bearer(portal, ["messages:read"]).get(url).status_code == 200


# --- GET /api/v1/queues and /api/v1/routing-rules ------------------------------------------


def test_queues_are_listed_for_administrators_and_clinical_staff_of_their_clinics(
    clinic, client_for
):
    ensure_default_queues(clinic=ClinicFactory())  # another clinic's: never listed
    mine = sorted(queue.pk for queue in clinic.queues_by_role.values())

    for role in (Role.ADMIN, Role.NURSE):
        assert (
            sorted(_ids(client_for(StaffFactory(clinic=clinic, role=role)).get("/api/v1/queues")))
            == mine
        )
    assert (
        client_for(StaffFactory(clinic=clinic, role=Role.BILLING)).get("/api/v1/queues").status_code
        == 404
    )


def test_routing_rules_are_for_administrators_only_in_the_order_they_are_tried(clinic, client_for):
    later = RoutingRuleFactory(clinic=clinic, order=20)
    first = RoutingRuleFactory(clinic=clinic, order=10)
    RoutingRuleFactory(clinic=ClinicFactory(), order=1)  # another clinic's

    admin = client_for(StaffFactory(clinic=clinic, role=Role.ADMIN))
    nurse = client_for(StaffFactory(clinic=clinic, role=Role.NURSE))

    assert _ids(admin.get("/api/v1/routing-rules")) == [first.pk, later.pk]
    assert nurse.get("/api/v1/routing-rules").status_code == 404
