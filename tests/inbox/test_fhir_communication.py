"""FHIR R4 Communication in (POST /fhir/Communication) and out (GET /fhir/Communication/ID),
through real bearer tokens and their scopes; every resource answered is checked with
fhir.resources (R4B models: config/fhir.py says why)."""

import copy
import json

import pytest
from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.operationoutcome import OperationOutcome
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.services import issue_api_token
from inbox.models import Message, Patient, PatientDataAccess
from tests.accounts.factories import IntegrationFactory, StaffFactory
from tests.inbox.factories import MessageFactory, PatientFactory

pytestmark = pytest.mark.django_db

FHIR_JSON = "application/fhir+json"


def bearer(user, *scopes) -> APIClient:
    _, token = issue_api_token(user=user, created_by=None, scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def post(client: APIClient, resource) -> object:
    body = resource if isinstance(resource, str) else json.dumps(resource)
    return client.post("/fhir/Communication", body, content_type=FHIR_JSON)


@pytest.fixture
def portal():
    integration = IntegrationFactory()
    patient = PatientFactory(clinic=integration.clinic, mrn="A1234", name="Ana Ruiz")
    return integration, patient


def communication(**changes) -> dict:
    resource = {
        "resourceType": "Communication",
        "identifier": [{"system": "urn:example:portal", "value": "portal-81723"}],
        "status": "completed",
        "category": [{"coding": [{"system": "urn:example:portal", "code": "medication"}]}],
        "subject": {"reference": "Patient/A1234"},
        "sender": {"reference": "Patient/A1234"},
        "topic": {"text": "Refill"},
        "sent": "2024-12-04T21:30:00-08:00",
        "payload": [{"contentString": "I need a refill of my lisinopril."}],
    }
    resource.update(changes)
    return {k: v for k, v in resource.items() if v is not None}


def assert_outcome(response, status: int, issue_code: str) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith(FHIR_JSON)
    outcome = response.json()
    OperationOutcome.model_validate(outcome)
    assert outcome["issue"][0]["code"] == issue_code
    return outcome


# --- in -------------------------------------------------------------------------------------


def test_a_communication_is_stored_as_the_patients_message_with_its_location(portal):
    integration, patient = portal
    client = bearer(integration.account, "fhir:write")

    response = post(client, communication())

    assert_outcome(response, 201, "informational")
    message = Message.objects.get()
    assert response["Location"] == f"http://testserver/fhir/Communication/{message.pk}"
    assert (message.clinic, message.conversation.patient) == (integration.clinic, patient)
    assert message.external_id == "portal-81723"
    assert message.body == "I need a refill of my lisinopril."
    assert (message.subject, message.category) == ("Refill", "medication")
    assert message.sent_at.isoformat() == "2024-12-05T05:30:00+00:00"


def test_the_subject_may_be_an_identifier_and_the_category_text(portal):
    integration, patient = portal
    resource = communication(
        subject={"identifier": {"system": "urn:oid:2.16.840.1.113883.3.1", "value": "A1234"}},
        sender=None,
        category=[{"text": "appointment"}],
    )

    response = post(bearer(integration.account, "fhir:write"), resource)

    assert response.status_code == 201
    message = Message.objects.get()
    assert (message.conversation.patient, message.category) == (patient, "appointment")


def test_a_repeated_identifier_answers_200_with_the_first_ones_location(portal):
    integration, _ = portal
    client = bearer(integration.account, "fhir:write")
    first = post(client, communication())

    again = post(client, communication(payload=[{"contentString": "Sent twice by a retry."}]))

    assert_outcome(again, 200, "informational")
    assert again["Location"] == first["Location"]
    assert Message.objects.count() == 1
    assert Message.objects.get().body == "I need a refill of my lisinopril."


@pytest.mark.parametrize(
    ("body", "expression"),
    [
        ("this is not json", None),
        ("[1, 2]", None),
        (communication(resourceType="Patient"), None),
        (communication(status=None), "Communication.status"),
        (communication(sent="yesterday"), "Communication.sent"),
        (communication(unknownElement=1), "Communication.unknownElement"),
        (communication(payload=[{"contentString": ""}]), "Communication.payload.0"),
    ],
    ids=[
        "not json",
        "not an object",
        "another resource",
        "no status",
        "bad date",
        "extra",
        "empty",
    ],
)
def test_what_is_not_a_valid_communication_answers_400(portal, body, expression):
    integration, _ = portal

    response = post(bearer(integration.account, "fhir:write"), body)

    outcome = assert_outcome(response, 400, response.json()["issue"][0]["code"])
    assert outcome["issue"][0]["code"] in ("invalid", "structure")
    if expression:
        assert outcome["issue"][0]["expression"][0].startswith(expression)
    assert Message.objects.count() == 0


@pytest.mark.parametrize(
    ("changes", "expression"),
    [
        ({"subject": None}, "Communication.subject"),
        ({"subject": {"display": "Ana Ruiz"}}, "Communication.subject"),
        ({"subject": {"reference": "Practitioner/7"}}, "Communication.subject.reference"),
        ({"identifier": None}, "Communication.identifier"),
        (
            {"payload": [{"contentAttachment": {"url": "https://x.test/a.pdf"}}]},
            "Communication.payload",
        ),
        ({"sender": {"reference": "Practitioner/7"}}, "Communication.sender"),
        ({"sent": "2024-12-04"}, "Communication.sent"),
        ({"sent": "2099-01-01T00:00:00Z"}, "Communication.sent"),
    ],
    ids=[
        "missing subject",
        "subject without patient",
        "subject not a patient",
        "no identifier",
        "no text",
        "from a practitioner",
        "date without time",
        "sent in the future",
    ],
)
def test_a_valid_communication_we_cannot_store_answers_422_naming_the_element(
    portal, changes, expression
):
    integration, _ = portal

    response = post(bearer(integration.account, "fhir:write"), communication(**changes))

    outcome = assert_outcome(response, 422, response.json()["issue"][0]["code"])
    assert outcome["issue"][0]["expression"] == [expression]
    assert Message.objects.count() == 0


def test_an_unknown_patient_answers_422_and_no_chart_is_made(portal):
    integration, _ = portal

    response = post(
        bearer(integration.account, "fhir:write"),
        communication(subject={"reference": "Patient/NO-SUCH-MRN"}, sender=None),
    )

    assert_outcome(response, 422, "processing")
    assert "no patient with this MRN" in response.json()["issue"][0]["diagnostics"]
    assert not Patient.objects.filter(mrn="NO-SUCH-MRN").exists()
    assert Message.objects.count() == 0


def test_another_clinics_patient_is_unknown_here(portal):
    integration, _ = portal
    other = PatientFactory(mrn="B-777")  # another clinic's

    response = post(
        bearer(integration.account, "fhir:write"),
        communication(subject={"reference": f"Patient/{other.mrn}"}, sender=None),
    )

    assert response.status_code == 422
    assert Message.objects.count() == 0


def test_intake_needs_an_integration_token_with_fhir_write(portal):
    integration, _ = portal
    nurse = StaffFactory(clinic=integration.clinic, role=Role.NURSE)

    without_scope = post(bearer(integration.account, "messages:write"), communication())
    staff = post(bearer(nurse, "fhir:write", "work:read"), communication())
    nobody = post(APIClient(), communication())

    assert_outcome(without_scope, 403, "forbidden")
    assert_outcome(staff, 403, "forbidden")
    assert_outcome(nobody, 401, "login")
    assert Message.objects.count() == 0


# --- out ------------------------------------------------------------------------------------


def test_a_stored_message_reads_as_a_valid_communication_and_is_access_logged(portal):
    integration, patient = portal
    client = bearer(integration.account, "fhir:read", "fhir:write")
    location = post(client, communication())["Location"]

    response = client.get(location)

    assert response.status_code == 200
    assert response["Content-Type"].startswith(FHIR_JSON)
    resource = response.json()
    Communication.model_validate(resource)
    message = Message.objects.get()
    assert resource["id"] == str(message.pk)
    assert resource["identifier"] == [{"value": "portal-81723"}]
    assert resource["subject"]["identifier"]["value"] == "A1234"
    assert resource["payload"] == [{"contentString": "I need a refill of my lisinopril."}]
    assert resource["topic"] == {"text": "Refill"}
    assert resource["category"] == [{"text": "medication"}]
    assert resource["sent"] == "2024-12-05T05:30:00+00:00"
    access = PatientDataAccess.objects.get()
    assert (access.user, access.patient, access.what, access.object_id) == (
        integration.account,
        patient,
        PatientDataAccess.What.MESSAGE_API,
        message.pk,
    )


def test_what_we_emit_posts_back_as_the_same_message(portal):
    """Round trip: our Communication is one we accept (a repeat of itself)."""
    integration, _ = portal
    client = bearer(integration.account, "fhir:read", "fhir:write")
    location = post(client, communication())["Location"]
    emitted = copy.deepcopy(client.get(location).json())
    emitted.pop("id")

    again = post(client, emitted)

    assert again.status_code == 200
    assert again["Location"] == location


def test_another_clinics_message_is_not_found_and_nothing_logged(portal):
    integration, _ = portal
    theirs = MessageFactory()

    response = bearer(integration.account, "fhir:read").get(f"/fhir/Communication/{theirs.pk}")

    assert_outcome(response, 404, "not-found")
    assert PatientDataAccess.objects.count() == 0


def test_reading_needs_fhir_read(portal):
    integration, patient = portal
    mine = MessageFactory(conversation__patient=patient)

    response = bearer(integration.account, "fhir:write").get(f"/fhir/Communication/{mine.pk}")

    assert_outcome(response, 403, "forbidden")
    assert PatientDataAccess.objects.count() == 0


def test_billing_staff_may_not_read_a_message(portal):
    integration, patient = portal
    mine = MessageFactory(conversation__patient=patient)
    billing = StaffFactory(clinic=integration.clinic, role=Role.BILLING)

    response = bearer(billing, "fhir:read").get(f"/fhir/Communication/{mine.pk}")

    assert_outcome(response, 403, "forbidden")
    assert PatientDataAccess.objects.count() == 0
