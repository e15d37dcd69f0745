"""GET /fhir/Task: work items as FHIR R4 Tasks in a searchset Bundle, for the clinic's EHR
(an integration token with fhir:read) and its clinical staff; every Bundle answered is
checked with fhir.resources. Plus the pure mapping (routing.fhir), as a table."""

import datetime

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.task import Task
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.services import issue_api_token
from inbox.models import PatientDataAccess
from routing.fhir import TaskSearchInvalid, task_from_work_item, task_search
from routing.models import WorkItem
from routing.services import ensure_default_queues
from tests.accounts.factories import ClinicFactory, IntegrationFactory, StaffFactory
from tests.routing.factories import routed_item

FHIR_JSON = "application/fhir+json"
AT = datetime.datetime(2026, 12, 4, 21, 30, tzinfo=datetime.UTC)


def bearer(user, *scopes) -> APIClient:
    _, token = issue_api_token(user=user, created_by=None, scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


# --- the mapping (no database) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "acuity", "holder", "fhir_status", "priority", "owner"),
    [
        ("open", "routine", None, "ready", "routine", "CareTeam/3"),
        ("claimed", "urgent", (9, "Nora Nurse"), "in-progress", "urgent", "Practitioner/9"),
        ("responded", "urgent", (9, "Nora Nurse"), "in-progress", "urgent", "Practitioner/9"),
        ("closed", "emergent", (9, "Nora Nurse"), "completed", "stat", "Practitioner/9"),
    ],
)
def test_a_work_item_maps_to_a_valid_task(status, acuity, holder, fhir_status, priority, owner):
    task = task_from_work_item(
        item_id=5,
        status=status,
        acuity=acuity,
        message_id=11,
        holder=holder,
        queue=(3, "Nurse triage"),
        created_at=AT,
        updated_at=AT,
        due_at=AT + datetime.timedelta(hours=4),
        claimed_at=AT if holder else None,
        closed_at=AT if status == "closed" else None,
    )

    Task.model_validate(task)
    assert (task["status"], task["priority"], task["owner"]["reference"]) == (
        fhir_status,
        priority,
        owner,
    )
    assert task["focus"] == {"reference": "Communication/11"}
    assert task["businessStatus"] == {"text": status}
    assert "for" not in task  # a Task names no patient


@pytest.mark.parametrize(
    ("status", "owner", "expected"),
    [
        (None, None, ((), None, None)),
        ("ready", None, (("open",), None, None)),
        ("ready,in-progress", None, (("open", "claimed", "responded"), None, None)),
        ("completed", "Practitioner/12", (("closed",), 12, None)),
        (None, "CareTeam/4", ((), None, 4)),
    ],
)
def test_search_parameters_become_filters(status, owner, expected):
    search = task_search(status=status, owner=owner)
    assert (search.statuses, search.held_by, search.unheld_in_queue) == expected


@pytest.mark.parametrize(
    ("status", "owner"),
    [
        ("open", None),
        ("", None),
        (None, "Patient/1"),
        (None, "Practitioner/x"),
        (None, "CareTeam/"),
    ],
)
def test_bad_search_parameters_are_refused(status, owner):
    with pytest.raises(TaskSearchInvalid):
        task_search(status=status, owner=owner)


# --- the endpoint ---------------------------------------------------------------------------


@pytest.fixture
def clinic_work(db):
    clinic = ClinicFactory()
    queues = ensure_default_queues(clinic=clinic)
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    open_item = routed_item(clinic, acuity="routine", level="nurse")
    held = routed_item(clinic, acuity="emergent", level="nurse")
    WorkItem.objects.filter(pk=held.pk).update(status="claimed", claimed_by=nurse, claimed_at=AT)
    closed = routed_item(clinic, acuity="urgent", level="nurse")
    WorkItem.objects.filter(pk=closed.pk).update(status="closed", closed_at=AT, closed_by=nurse)
    return clinic, queues, nurse, open_item, held, closed


def search(client: APIClient, query: str = "") -> dict:
    response = client.get(f"/fhir/Task{query}")
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith(FHIR_JSON)
    bundle = response.json()
    Bundle.model_validate(bundle)
    assert bundle["type"] == "searchset"
    return bundle


def ids(bundle: dict) -> list[int]:
    return [int(entry["resource"]["id"]) for entry in bundle["entry"]]


@pytest.mark.django_db
def test_the_ehr_searches_its_clinics_tasks_by_status_and_owner(clinic_work):
    clinic, _, nurse, open_item, held, closed = clinic_work
    routed_item(ClinicFactory(), acuity="routine")  # another clinic's: never listed
    ehr = bearer(IntegrationFactory(clinic=clinic, name="EHR").account, "fhir:read")

    everything = search(ehr)
    ready = search(ehr, "?status=ready")
    working = search(ehr, "?status=in-progress,completed")
    held_by_nurse = search(ehr, f"?owner=Practitioner/{nurse.pk}&status=in-progress")
    pool = search(ehr, f"?owner=CareTeam/{open_item.queue_id}&status=ready")
    # Closed by someone who never held it: its owner is still the queue.
    queue_owned = search(ehr, f"?owner=CareTeam/{open_item.queue_id}")

    assert ids(everything) == [open_item.pk, held.pk, closed.pk]
    assert ids(ready) == [open_item.pk]
    assert ids(working) == [held.pk, closed.pk]
    assert ids(held_by_nurse) == [held.pk]
    assert ids(pool) == [open_item.pk]
    assert ids(queue_owned) == [open_item.pk, closed.pk]
    (task,) = (e["resource"] for e in everything["entry"] if e["resource"]["id"] == str(held.pk))
    assert (task["status"], task["priority"]) == ("in-progress", "stat")
    assert task["owner"]["reference"] == f"Practitioner/{nurse.pk}"
    assert task["focus"] == {"reference": f"Communication/{held.message_id}"}


@pytest.mark.django_db
def test_tasks_page_with_a_next_link(clinic_work):
    clinic, *_ = clinic_work
    ehr = bearer(IntegrationFactory(clinic=clinic).account, "fhir:read")

    first = search(ehr, "?_count=2")
    (next_url,) = [link["url"] for link in first["link"] if link["relation"] == "next"]
    second = search(ehr, next_url.removeprefix("http://testserver/fhir/Task"))

    assert len(first["entry"]) == 2
    assert len(second["entry"]) == 1
    assert not [link for link in second["link"] if link["relation"] == "next"]


@pytest.mark.django_db
def test_a_nurse_reads_tasks_and_no_patient_is_shown_or_logged(clinic_work):
    _, _, nurse, open_item, *_ = clinic_work
    client = APIClient()
    client.force_authenticate(nurse)

    bundle = search(client)

    assert len(bundle["entry"]) == 3
    patient = open_item.conversation.patient
    body = str(bundle)
    assert patient.mrn not in body
    assert patient.name not in body
    assert open_item.message.body not in body
    assert PatientDataAccess.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.BILLING, Role.ADMIN])
def test_roles_that_read_no_messages_are_refused(clinic_work, role):
    clinic, *_ = clinic_work
    response = bearer(StaffFactory(clinic=clinic, role=role), "fhir:read").get("/fhir/Task")

    assert response.status_code == 403
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.django_db
def test_a_token_without_fhir_read_is_refused(clinic_work):
    clinic, *_ = clinic_work
    ehr = bearer(IntegrationFactory(clinic=clinic).account, "messages:write", "work:read")

    response = ehr.get("/fhir/Task")

    assert response.status_code == 403
    assert response.json()["issue"][0]["code"] == "forbidden"


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["?status=open", "?owner=Group/1", "?_count=x", "?cursor=zz"])
def test_a_bad_search_answers_400_operation_outcome(clinic_work, query):
    clinic, *_ = clinic_work
    response = bearer(IntegrationFactory(clinic=clinic).account, "fhir:read").get(
        f"/fhir/Task{query}"
    )

    assert response.status_code == 400, response.content
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.django_db
def test_the_capability_statement_is_valid_r4_and_public():
    from fhir.resources.R4B.capabilitystatement import CapabilityStatement

    response = APIClient().get("/fhir/metadata")

    assert response.status_code == 200
    statement = response.json()
    CapabilityStatement.model_validate(statement)
    assert statement["fhirVersion"] == "4.0.1"
    served = {
        r["type"]: [i["code"] for i in r["interaction"]] for r in statement["rest"][0]["resource"]
    }
    assert served == {"Communication": ["create", "read"], "Task": ["search-type"]}
