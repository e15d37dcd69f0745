"""The staff screens through Django's test client: order, scoping, actions, paging,
idle sign-out and a query count that does not grow with the rows."""

import re
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.middleware import LAST_ACTIVITY
from accounts.models import Role
from billing.models import TimeEntry
from inbox.models import PatientDataAccess
from routing import services
from routing.models import WorkItem
from tests.accounts.factories import ClinicFactory, MembershipFactory, StaffFactory
from tests.inbox.factories import ConversationFactory
from tests.routing.factories import routed_item
from triage.models import LabelCorrection

pytestmark = pytest.mark.django_db


def logged_in(client, user):
    client.force_login(user)
    return client


def test_queue_lists_emergent_above_routine_and_lands_on_the_role_pool(client):
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    routed_item(clinic, subject="Routine refill question")
    routed_item(clinic, acuity="emergent", subject="Crushing chest pain")
    page = logged_in(client, nurse).get("/work/").content.decode()
    assert '<h1 id="queue-title">Nurse triage</h1>' in page
    assert page.index("Crushing chest pain") < page.index("Routine refill question")


def test_clerk_lands_on_the_clerical_pool_and_a_physician_sees_only_physician_queues(client):
    clinic = ClinicFactory()
    clerk = StaffFactory(clinic=clinic, role=Role.CLERICAL)
    physician = StaffFactory(clinic=clinic, role=Role.PHYSICIAN)
    services.ensure_default_queues(clinic=clinic)
    assert "Clerical pool</h1>" in logged_in(client, clerk).get("/work/").content.decode()
    page = logged_in(client, physician).get("/work/").content.decode()
    assert "Physician</h1>" in page
    assert "Nurse triage" not in page


def test_another_clinics_item_and_queue_answer_404(client):
    mine, theirs = ClinicFactory(), ClinicFactory()
    nurse = StaffFactory(clinic=mine)
    item = routed_item(theirs)
    logged_in(client, nurse)
    assert client.get(f"/work/items/{item.pk}/").status_code == 404
    assert client.post(f"/work/items/{item.pk}/claim").status_code == 404
    assert client.get(f"/work/?queue={item.queue_id}").status_code == 404


def test_claim_reassign_escalate_and_log_time_from_the_detail_page(client):
    clinic = ClinicFactory()
    physician = StaffFactory(clinic=clinic, role=Role.PHYSICIAN)
    item = routed_item(clinic, level="physician")
    logged_in(client, physician)
    client.post(f"/work/items/{item.pk}/claim")
    client.post(
        f"/work/items/{item.pk}/reassign", {"target": "role:nurse", "reason": "nurse can do"}
    )
    item.refresh_from_db()
    assert (item.queue.role, item.status) == ("nurse", "open")
    assert LabelCorrection.objects.get(message=item.message).to_value == "nurse"
    response = client.post(
        f"/work/items/{item.pk}/reassign", {"target": "role:nurse", "reason": ""}
    )
    assert "needs a reason" in client.get(response.url).content.decode()
    client.post(f"/work/items/{item.pk}/log-time", {"minutes": "12"})
    client.post(f"/work/items/{item.pk}/escalate", {"reason": "dose question"})
    item.refresh_from_db()
    assert item.queue.role == "physician"
    entry = TimeEntry.objects.get()
    assert (entry.seconds, entry.role, entry.user) == (720, "physician", physician)


def test_load_more_pages_through_the_queue_without_gaps_or_repeats(client):
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic)
    ids = {routed_item(clinic, acuity=("urgent", "routine")[n % 2]).pk for n in range(57)}
    logged_in(client, nurse)
    page = client.get("/work/").content.decode()
    seen = re.findall(r"data-item-url=\"/work/items/(\d+)/\"", page)
    cursor = re.search(r"after=([\d.]+)", page).group(1)
    more = client.get(f"/work/rows?queue={WorkItem.objects.first().queue_id}&after={cursor}")
    seen += re.findall(r"data-item-url=\"/work/items/(\d+)/\"", more.content.decode())
    assert len(seen) == len(set(seen))  # each row once
    assert {int(i) for i in seen} == ids
    assert client.get("/work/rows?after=bad").status_code == 404


def test_queue_page_query_count_does_not_grow_with_rows(client):
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic)
    logged_in(client, nurse)
    counts = []
    for batch in (3, 40):
        for _ in range(batch):
            routed_item(clinic)
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/work/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert counts[0] > 5  # the pages really were measured


def test_idle_session_is_signed_out_but_background_polls_do_not_keep_it_alive(client, settings):
    settings.SESSION_IDLE_TIMEOUT_SECONDS = 60
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic)
    services.ensure_default_queues(clinic=clinic)
    logged_in(client, nurse)
    assert client.get("/work/").status_code == 200
    session = client.session
    session[LAST_ACTIVITY] = time.time() - 30
    session.save()
    client.get("/work/counts", headers={"X-Background-Poll": "1"})
    assert client.session[LAST_ACTIVITY] < time.time() - 29  # the poll did not count
    session = client.session
    session[LAST_ACTIVITY] = time.time() - 61
    session.save()
    response = client.get("/work/")
    assert response.status_code == 302
    assert response.url.startswith("/login/?idle=1")
    assert client.get("/work/").url.startswith("/login/")  # signed out for good


def test_clinic_switcher_changes_the_clinic_and_refuses_others(client):
    first, second, foreign = (
        ClinicFactory(name="A clinic"),
        ClinicFactory(name="B clinic"),
        ClinicFactory(),
    )
    nurse = StaffFactory(clinic=first)
    MembershipFactory(user=nurse, clinic=second, role=Role.CLERICAL)
    for clinic in (first, second):
        services.ensure_default_queues(clinic=clinic)
    logged_in(client, nurse)
    assert "Nurse triage</h1>" in client.get("/work/").content.decode()
    client.post("/clinic/", {"clinic": second.pk})
    assert "Clerical pool</h1>" in client.get("/work/").content.decode()
    assert client.post("/clinic/", {"clinic": foreign.pk}).status_code == 404


def test_opening_a_message_is_written_to_the_access_log_and_a_refused_one_is_not(client):
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    item = routed_item(clinic)
    theirs = routed_item(ClinicFactory())
    logged_in(client, nurse)

    assert client.get(f"/work/items/{item.pk}/").status_code == 200
    assert client.get(f"/work/items/{theirs.pk}/").status_code == 404

    access = PatientDataAccess.objects.get()
    assert (access.user, access.patient, access.clinic) == (
        nurse,
        item.conversation.patient,
        clinic,
    )
    assert (access.what, access.object_id) == ("message_thread", item.pk)


def test_a_queue_page_is_written_to_the_access_log_once_per_patient_shown(client):
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    first = routed_item(clinic, acuity="urgent")
    patient = first.conversation.patient
    routed_item(clinic, conversation=ConversationFactory(patient=patient))
    other = routed_item(clinic)
    clerical = routed_item(clinic, level="clerical")  # another pool: not on the nurse page
    logged_in(client, nurse)

    assert client.get("/work/").status_code == 200

    logged = PatientDataAccess.objects.values_list("patient", "object_id", "what", "user")
    assert sorted(logged) == sorted(
        [
            (patient.pk, first.pk, "queue_list", nurse.pk),
            (other.conversation.patient_id, other.pk, "queue_list", nurse.pk),
        ]
    )

    assert client.get(f"/work/rows?queue={clerical.queue_id}").status_code == 200

    access = PatientDataAccess.objects.latest("pk")
    assert (access.patient, access.object_id) == (clerical.conversation.patient, clerical.pk)
    assert PatientDataAccess.objects.count() == 3


def test_a_refused_queue_page_writes_nothing_to_the_access_log(client):
    nurse = StaffFactory(clinic=ClinicFactory(), role=Role.NURSE)
    theirs = routed_item(ClinicFactory())
    logged_in(client, nurse)

    assert client.get(f"/work/?queue={theirs.queue_id}").status_code == 404
    assert client.get(f"/work/rows?queue={theirs.queue_id}").status_code == 404
    assert client.get("/work/rows?after=bad").status_code == 404

    assert not PatientDataAccess.objects.exists()
