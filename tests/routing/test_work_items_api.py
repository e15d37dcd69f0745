import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from inbox.models import PatientDataAccess
from routing.models import WorkItem
from routing.services import ensure_default_queues
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.inbox.factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/work-items"


def work_item(queue, *, acuity, rank, due_in_minutes, status=WorkItem.Status.OPEN, patient=None):
    if patient is None:
        message = MessageFactory(conversation__patient__clinic=queue.clinic)
    else:  # another conversation of the same patient
        message = MessageFactory(conversation=ConversationFactory(patient=patient))
    return WorkItem.objects.create(
        clinic=queue.clinic,
        conversation=message.conversation,
        message=message,
        queue=queue,
        acuity=acuity,
        acuity_rank=rank,
        service_level=queue.role,
        status=status,
        due_at=timezone.now() + datetime.timedelta(minutes=due_in_minutes),
    )


def test_open_items_are_ordered_by_acuity_then_due_time(client_for):
    clinic = ClinicFactory()
    nurse_queue = ensure_default_queues(clinic=clinic)[Role.NURSE]
    routine_soon = work_item(nurse_queue, acuity="routine", rank=2, due_in_minutes=5)
    urgent_late = work_item(nurse_queue, acuity="urgent", rank=1, due_in_minutes=200)
    emergent = work_item(nurse_queue, acuity="emergent", rank=0, due_in_minutes=15)
    urgent_early = work_item(nurse_queue, acuity="urgent", rank=1, due_in_minutes=30)
    work_item(
        nurse_queue, acuity="emergent", rank=0, due_in_minutes=1, status=WorkItem.Status.CLOSED
    )
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)

    response = client_for(nurse).get(URL, {"queue": nurse_queue.pk})

    assert response.status_code == 200
    ids = [row["id"] for row in response.json()["results"]]
    assert ids == [emergent.pk, urgent_early.pk, urgent_late.pk, routine_soon.pk]


def test_queue_of_another_clinic_is_404(client_for):
    other_queue = ensure_default_queues(clinic=ClinicFactory())[Role.NURSE]
    nurse = StaffFactory(role=Role.NURSE)
    assert client_for(nurse).get(URL, {"queue": other_queue.pk}).status_code == 404


def test_without_queue_only_my_clinics_items_are_listed(client_for):
    mine = ensure_default_queues(clinic=ClinicFactory())[Role.NURSE]
    theirs = ensure_default_queues(clinic=ClinicFactory())[Role.NURSE]
    my_item = work_item(mine, acuity="routine", rank=2, due_in_minutes=10)
    work_item(theirs, acuity="emergent", rank=0, due_in_minutes=1)
    nurse = StaffFactory(clinic=mine.clinic, role=Role.NURSE)

    ids = [row["id"] for row in client_for(nurse).get(URL).json()["results"]]

    assert ids == [my_item.pk]


def test_non_numeric_queue_is_400(client_for):
    nurse = StaffFactory(role=Role.NURSE)
    response = client_for(nurse).get(URL, {"queue": "nurses"})
    assert response.status_code == 400
    assert "queue" in response.json()["errors"]


def test_a_page_is_written_to_the_access_log_once_per_patient_on_it(client_for):
    clinic = ClinicFactory()
    queues = ensure_default_queues(clinic=clinic)
    nurse_queue = queues[Role.NURSE]
    first = work_item(nurse_queue, acuity="emergent", rank=0, due_in_minutes=5)
    patient = first.conversation.patient
    work_item(nurse_queue, acuity="urgent", rank=1, due_in_minutes=5, patient=patient)
    other = work_item(nurse_queue, acuity="urgent", rank=1, due_in_minutes=50)
    next_page = work_item(nurse_queue, acuity="routine", rank=2, due_in_minutes=5)
    work_item(queues[Role.CLERICAL], acuity="routine", rank=2, due_in_minutes=5)  # filtered out
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    api = client_for(nurse)

    with CaptureQueriesContext(connection) as queries:
        response = api.get(URL, {"queue": nurse_queue.pk, "page_size": 3})

    assert response.status_code == 200
    inserts = [q for q in queries if q["sql"].startswith('INSERT INTO "inbox_patientdataaccess"')]
    assert len(inserts) == 1  # one bulk insert for the page
    logged = PatientDataAccess.objects.values_list("patient", "object_id", "what", "user", "clinic")
    assert sorted(logged) == sorted(
        [
            (patient.pk, first.pk, "queue_list_api", nurse.pk, clinic.pk),
            (other.conversation.patient_id, other.pk, "queue_list_api", nurse.pk, clinic.pk),
        ]
    )

    api.get(response.json()["next"])

    assert PatientDataAccess.objects.filter(
        patient=next_page.conversation.patient, object_id=next_page.pk
    ).exists()
    assert PatientDataAccess.objects.count() == 3


def test_refused_or_empty_pages_write_nothing_to_the_access_log(client_for):
    other_queue = ensure_default_queues(clinic=ClinicFactory())[Role.NURSE]
    work_item(other_queue, acuity="urgent", rank=1, due_in_minutes=5)
    api = client_for(StaffFactory(role=Role.NURSE))

    assert api.get(URL, {"queue": other_queue.pk}).status_code == 404
    assert api.get(URL, {"queue": "nurses"}).status_code == 400
    assert api.get(URL).json()["results"] == []  # another clinic's items are not listed

    assert not PatientDataAccess.objects.exists()
