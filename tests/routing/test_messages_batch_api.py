"""POST /api/v1/messages:batch: the portal's intake for up to 500 messages at once, with a
result per message in the request's order and the single intake's idempotency."""

import json

import pytest
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.services import issue_api_token
from inbox.models import Conversation, Message, Patient
from routing.models import WorkItem
from tests.accounts.factories import ClinicFactory, IntegrationFactory, StaffFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/messages:batch"


def message(clinic, n: int, **overrides) -> dict:
    body = {
        "external_id": f"portal-{n}",
        "clinic": clinic.slug,
        "patient": {"mrn": f"A-{n}", "name": f"Patient {n}", "preferred_language": "en"},
        "subject": "Reschedule",
        "body": "Hi, I need to move my appointment on Tuesday to later in the week please.",
        "category": "appointment",
        "sent_at": "2026-11-20T09:30:00Z",
    }
    body.update(overrides)
    return body


@pytest.fixture
def clinic():
    return ClinicFactory(slug="onc")


@pytest.fixture
def portal(clinic):
    return IntegrationFactory(clinic=clinic).account


@pytest.fixture
def post(client_for, portal):
    def send(messages) -> dict:
        response = client_for(portal).post(URL, {"messages": messages}, format="json")
        assert response.status_code == 200, response.content
        return response.json()

    return send


def test_each_message_has_its_result_in_request_order(client_for, portal, clinic, post):
    # given: one message stored by the single intake, one thread of patient A-7
    stored = client_for(portal).post("/api/v1/messages", message(clinic, 1), format="json")
    post([message(clinic, 7, conversation_id="thread-7")])
    elsewhere = ClinicFactory(slug="cardio")

    # when
    answer = post(
        [
            message(clinic, 2),  # new
            message(clinic, 1, body="changed text"),  # posted before: the stored one
            message(clinic, 3, body=""),  # invalid
            message(clinic, 4, conversation_id="thread-7"),  # A-7's thread, patient A-4
            message(clinic, 2),  # again in the same batch
            message(elsewhere, 5),  # not this integration's clinic
            "not an object",
            message(clinic, 6, patient={"mrn": ""}),  # invalid, nested
        ]
    )

    # then
    results = answer["results"]
    assert [r["position"] for r in results] == list(range(8))
    assert [r["outcome"] for r in results] == [
        "created",
        "already_present",
        "rejected",
        "rejected",
        "already_present",
        "rejected",
        "rejected",
        "rejected",
    ]
    assert (answer["created"], answer["already_present"], answer["rejected"]) == (1, 2, 5)
    new = Message.objects.get(external_id="portal-2")
    assert results[0]["id"] == new.pk
    assert results[1]["id"] == stored.json()["id"]
    assert results[4]["id"] == new.pk
    assert results[2]["code"] == "invalid"
    assert results[2]["errors"] == {"body": ["This field may not be blank."]}
    assert results[3]["code"] == "conversation_patient_mismatch"
    assert results[3]["detail"] == "This conversation belongs to another patient of the clinic."
    assert results[5]["code"] == "not_found"
    assert "cardio" not in json.dumps(answer)  # another clinic is never confirmed
    assert results[6]["errors"] == {
        "non_field_errors": ["Invalid data. Expected a dictionary, but got str."]
    }
    assert results[7]["errors"] == {"patient": {"mrn": ["This field may not be blank."]}}
    assert all(r["id"] is None for r in results if r["outcome"] == "rejected")
    # Only the new one was stored, and nothing of the rejected ones.
    assert Message.objects.filter(clinic=clinic).count() == 3
    assert not Patient.objects.filter(mrn__in=["A-3", "A-4", "A-5", "A-6"]).exists()
    assert Message.objects.get(external_id="portal-1").body != "changed text"


def test_posting_the_same_batch_twice_stores_nothing_new(
    clinic, post, django_capture_on_commit_callbacks
):
    batch = [message(clinic, n, conversation_id=f"t-{n % 3}") for n in range(10)]
    batch = [dict(m, patient={"mrn": f"A-{n % 3}"}) for n, m in enumerate(batch)]

    with django_capture_on_commit_callbacks() as first_callbacks:
        first = post(batch)
    with django_capture_on_commit_callbacks() as second_callbacks:
        second = post(batch)

    assert first["created"] == 10
    assert (second["created"], second["already_present"], second["rejected"]) == (0, 10, 0)
    assert [r["id"] for r in second["results"]] == [r["id"] for r in first["results"]]
    assert (Message.objects.count(), Conversation.objects.count(), Patient.objects.count()) == (
        10,
        3,
        3,
    )
    assert len(first_callbacks) == 1  # one announcement for the whole batch
    assert second_callbacks == []  # nothing new, nothing enqueued


def test_501_messages_are_refused_and_nothing_is_stored(client_for, portal, clinic):
    batch = [message(clinic, n) for n in range(501)]

    response = client_for(portal).post(URL, {"messages": batch}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "detail": "The request has missing or invalid fields.",
        "errors": {
            "messages": ["A batch holds at most 500 messages: split it into several requests."]
        },
    }
    assert not Message.objects.exists()


def test_500_messages_are_stored(clinic, post):
    answer = post([message(clinic, n) for n in range(500)])

    assert answer["created"] == 500
    assert Message.objects.filter(status=Message.Status.RECEIVED).count() == 500


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ([], {"non_field_errors": ["Send a JSON object"]}),
        ({}, {"messages": ["This field is required."]}),
        ({"messages": []}, {"messages": ["The batch holds no message."]}),
        ({"messages": {"external_id": "x"}}, {"messages": ["A list of messages"]}),
        ({"messages": "portal-1"}, {"messages": ["A list of messages"]}),
    ],
)
def test_a_body_that_is_not_a_batch_is_400_saying_what_is_expected(
    client_for, portal, body, errors
):
    response = client_for(portal).post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    got = response.json()["errors"]
    assert got.keys() == errors.keys()
    for name, (start,) in errors.items():
        assert got[name][0].startswith(start), got
    assert not Message.objects.exists()


def test_staff_cannot_post_a_batch_and_are_told_why(client_for, clinic):
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)

    response = client_for(nurse).post(URL, {"messages": [message(clinic, 1)]}, format="json")

    assert response.status_code == 403
    assert response.json()["detail"].startswith("Only the clinic's portal or EHR")
    assert not Message.objects.exists()


def test_a_token_without_messages_write_is_refused_naming_the_scope(portal, clinic):
    _, token = issue_api_token(user=portal, created_by=None, scopes=["outbox:read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = client.post(URL, {"messages": [message(clinic, 1)]}, format="json")

    assert response.status_code == 403
    assert "lacks the scope 'messages:write'" in response.json()["detail"]
    assert not Message.objects.exists()


def test_the_integration_token_with_messages_write_posts(portal, clinic):
    _, token = issue_api_token(user=portal, created_by=None, scopes=["messages:write"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = client.post(URL, {"messages": [message(clinic, 1)]}, format="json")

    assert response.status_code == 200
    assert response.json()["results"][0]["outcome"] == "created"


def test_every_message_of_a_batch_is_classified_and_routed_after_commit(
    clinic, post, active_model_version, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        answer = post([message(clinic, n) for n in range(60)])

    assert answer["created"] == 60
    assert len(callbacks) == 1
    assert set(Message.objects.values_list("status", flat=True)) == {Message.Status.ROUTED}
    assert WorkItem.objects.filter(clinic=clinic).count() == 60


def test_with_the_broker_down_the_batch_is_stored_and_left_for_the_sweep(
    clinic, post, monkeypatch, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError as BrokerDown

    from pipeline import receivers

    def refuse(*args, **kwargs):
        raise BrokerDown("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(receivers.classify_and_route_many, "apply_async", refuse)

    with django_capture_on_commit_callbacks(execute=True):
        answer = post([message(clinic, n) for n in range(3)])

    assert answer["created"] == 3
    # Still received: the stuck-message sweep (pipeline.tasks.requeue_stuck) takes them.
    assert set(Message.objects.values_list("status", flat=True)) == {Message.Status.RECEIVED}
