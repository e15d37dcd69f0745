import json

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.services import issue_api_token
from inbox.models import Conversation, Message, Patient
from pipeline import receivers as pipeline_receivers
from routing.models import WorkItem
from tests.accounts.factories import ClinicFactory, IntegrationFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/messages"


def payload(clinic, **overrides):
    body = {
        "external_id": "portal-1001",
        "clinic": clinic.slug,
        "patient": {"mrn": "A-1", "name": "Ana Diaz", "preferred_language": "es"},
        "subject": "Reschedule",
        "body": "Hi, I need to move my appointment on Tuesday to later in the week please.",
        "category": "appointment",
        "sent_at": "2026-11-20T09:30:00Z",
    }
    body.update(overrides)
    return body


def nothing_stored():
    return not (
        Message.objects.exists() or Patient.objects.exists() or Conversation.objects.exists()
    )


@pytest.fixture
def clinic():
    return ClinicFactory(slug="onc")


@pytest.fixture
def portal(clinic):
    return IntegrationFactory(clinic=clinic).account


def test_new_message_is_stored_classified_and_routed_to_a_queue(
    client_for, portal, clinic, active_model_version, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client_for(portal).post(URL, payload(clinic), format="json")

    assert response.status_code == 201, response.content
    assert len(callbacks) == 1
    message = Message.objects.get(pk=response.json()["id"])
    assert message.status == Message.Status.ROUTED
    assert message.conversation.patient.preferred_language == "es"
    item = WorkItem.objects.get(conversation=message.conversation)
    assert item.queue.clinic == clinic
    assert item.queue.role == message.classification.routing_service_level


def test_same_external_id_twice_gives_one_message_and_200_with_it(
    client_for, portal, clinic, active_model_version, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = client_for(portal).post(URL, payload(clinic), format="json")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        second = client_for(portal).post(URL, payload(clinic, body="changed text"), format="json")

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["id"] == first.json()["id"]
    assert callbacks == []  # nothing enqueued again
    assert Message.objects.count() == 1
    assert WorkItem.objects.count() == 1


def test_body_over_20000_characters_is_400_and_nothing_is_stored(client_for, portal, clinic):
    response = client_for(portal).post(URL, payload(clinic, body="x" * 20_001), format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "body" in response.json()["errors"]
    assert nothing_stored()


def test_body_of_exactly_20000_characters_is_accepted(client_for, portal, clinic):
    response = client_for(portal).post(URL, payload(clinic, body="y" * 20_000), format="json")
    assert response.status_code == 201


@pytest.mark.parametrize("missing", ["external_id", "clinic", "patient", "body"])
def test_missing_field_is_400_naming_it(client_for, portal, clinic, missing):
    body = payload(clinic)
    del body[missing]

    response = client_for(portal).post(URL, body, format="json")

    assert response.status_code == 400
    assert missing in response.json()["errors"]
    assert nothing_stored()


def test_missing_patient_mrn_is_400(client_for, portal, clinic):
    response = client_for(portal).post(URL, payload(clinic, patient={"name": "X"}), format="json")
    assert response.status_code == 400
    assert "mrn" in response.json()["errors"]["patient"]


def test_invalid_json_is_400_with_a_clear_error(client_for, portal, clinic):
    response = client_for(portal).post(
        URL, data='{"external_id": "x", "body": ', content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"
    assert "JSON" in response.json()["detail"]
    assert nothing_stored()


def test_a_clinic_other_than_the_integrations_own_is_404(client_for, portal):
    other = ClinicFactory()
    response = client_for(portal).post(URL, payload(other), format="json")
    assert response.status_code == 404
    assert nothing_stored()


def test_unauthenticated_caller_is_rejected(client, clinic):
    response = client.post(URL, json.dumps(payload(clinic)), content_type="application/json")
    assert response.status_code in (401, 403)
    assert nothing_stored()


def test_token_authentication_works(portal, clinic, active_model_version):
    _, token = issue_api_token(user=portal, created_by=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.post(URL, payload(clinic), format="json").status_code == 201


def test_conversation_of_another_patient_is_400_and_nothing_half_stored(
    client_for, portal, clinic, active_model_version
):
    client = client_for(portal)
    first = payload(clinic, conversation_id="thread-9")
    assert client.post(URL, first, format="json").status_code == 201

    second = payload(
        clinic,
        external_id="portal-1002",
        conversation_id="thread-9",
        patient={"mrn": "B-2", "name": "Someone Else"},
    )
    response = client.post(URL, second, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "conversation_patient_mismatch"
    assert Message.objects.count() == 1
    assert not Patient.objects.filter(mrn="B-2").exists()


def test_a_post_costs_nine_statements_and_its_routing_is_sent_without_reading_it_again(
    clinic, portal, monkeypatch, django_capture_on_commit_callbacks
):
    # The statement count is issue 23's intake cost; the broker is not what is measured,
    # so the routing task's send is recorded rather than run.
    sent = []

    class RecordedTask:
        @staticmethod
        def apply_async(args, priority):
            sent.append((args, priority))

    monkeypatch.setattr(pipeline_receivers, "classify_and_route", RecordedTask)
    _, token = issue_api_token(user=portal, created_by=None, scopes=["messages:write"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    with django_capture_on_commit_callbacks(execute=True):
        api.post(URL, payload(clinic, external_id="warm-up"), format="json")  # the token's use

    with (
        CaptureQueriesContext(connection) as captured,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = api.post(
            URL,
            payload(
                clinic,
                external_id="portal-2002",
                patient={"mrn": "B-2", "name": "Bo Li"},
                body="I have crushing chest pain right now",
            ),
            format="json",
        )

    assert response.status_code == 201, response.content
    statements = [q["sql"] for q in captured.captured_queries]
    # The token with its integration and clinic; the idempotency check; the patient, the
    # conversation and the message, each read then inserted (the message only inserted),
    # in a transaction (here a savepoint); and nothing after commit.
    assert len(statements) <= 9, "\n".join(statements)
    message = Message.objects.get(pk=response.json()["id"])
    assert sent[-1] == ((message.pk,), settings.TRIAGE_PRIORITY_EMERGENT)
