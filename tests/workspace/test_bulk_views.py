"""Bulk actions on the queue page (workspace/bulk_views.py) and the reassign list: who is
offered them, the summary item by item, the refusals of the request as a whole, the
access log, CSRF; and the reassign list that starts with nothing chosen."""

import re

import pytest
from django.test import Client

from accounts.models import Role
from inbox.models import PatientDataAccess
from routing import bulk
from routing.models import WorkItem
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.routing.factories import QueueFactory, routed_item

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def desk():
    clinic = ClinicFactory()
    clerk = StaffFactory(clinic=clinic, role=Role.CLERICAL)
    routine = routed_item(clinic, level="clerical", subject="New insurance card")
    urgent = routed_item(clinic, acuity="urgent", level="clerical", subject="Bill looks wrong")
    records = QueueFactory(clinic=clinic, role="clerical", name="Medical records")
    return clinic, clerk, routine, urgent, records


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_clerk_gets_row_boxes_and_the_bulk_form_and_a_nurse_does_not(desk):
    clinic, clerk, routine, _, _ = desk
    page = signed_in(clerk).get("/work/").content.decode()
    assert 'id="bulk-form"' in page
    assert f'name="items" value="{routine.pk}" form="bulk-form"' in page
    assert 'aria-label="Select all on this page"' in page
    # The live refresh draws the boxes too.
    rows = signed_in(clerk).get("/work/rows").content.decode()
    assert f'value="{routine.pk}" form="bulk-form"' in rows

    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    page = signed_in(nurse).get("/work/").content.decode()
    assert "bulk-form" not in page
    assert "data-bulk-item" not in page


def test_the_summary_says_what_was_done_and_why_each_refusal(desk):
    _, clerk, routine, urgent, records = desk
    response = signed_in(clerk).post(
        "/work/bulk",
        {
            "items": [routine.pk, urgent.pk],
            "action": "reassign",
            "target": f"queue:{records.pk}",
            "reason": "records request",
            "queue": str(routine.queue_id),
        },
        **HTMX,
    )

    assert response.status_code == 200
    assert response["HX-Trigger-After-Swap"] == "bulk-done"
    html = response.content.decode()
    assert "Done 1 of 2; 1 refused" in html
    patient = urgent.conversation.patient.name
    refused = re.search(r"<ul class=\"refused\" data-bulk-refused>(.*?)</ul>", html, re.S)[1]
    assert f"Item {urgent.pk} ({patient}): A clerical role may send a clerical-level" in refused
    assert f"Item {routine.pk} ({routine.conversation.patient.name}): sent to Medical" in html
    assert WorkItem.objects.get(pk=routine.pk).queue == records
    assert WorkItem.objects.get(pk=urgent.pk).queue != records


def test_without_script_the_summary_is_a_page_with_the_way_back(desk):
    _, clerk, routine, _, _ = desk
    response = signed_in(clerk).post(
        "/work/bulk", {"items": [routine.pk], "action": "claim", "queue": str(routine.queue_id)}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Bulk action</h1>" in html
    assert "Done 1 of 1" in html
    assert f'href="/work/?queue={routine.queue_id}"' in html


def test_the_patients_named_in_the_summary_are_written_to_the_access_log(desk):
    _, clerk, routine, urgent, _ = desk
    signed_in(clerk).post("/work/bulk", {"items": [routine.pk, urgent.pk], "action": "claim"})
    logged = PatientDataAccess.objects.filter(user=clerk, what=PatientDataAccess.What.QUEUE_LIST)
    assert set(logged.values_list("patient_id", flat=True)) == {
        routine.conversation.patient_id,
        urgent.conversation.patient_id,
    }


def test_more_than_the_cap_is_refused_whole_with_a_plain_message(desk):
    _, clerk, routine, _, _ = desk
    ids = [routine.pk, *range(10**9, 10**9 + bulk.BULK_LIMIT)]
    response = signed_in(clerk).post("/work/bulk", {"items": ids, "action": "claim"})
    assert response.status_code == 400
    assert "At most 100 items at a time: 101 were selected" in response.content.decode()
    assert WorkItem.objects.get(pk=routine.pk).status == WorkItem.Status.OPEN
    # From the page (htmx), the same words in the summary's place.
    response = signed_in(clerk).post("/work/bulk", {"items": ids, "action": "claim"}, **HTMX)
    assert response.status_code == 200
    assert "Nothing was done" in response.content.decode()


@pytest.mark.parametrize("role", [Role.NURSE, Role.PHYSICIAN, Role.BILLING, Role.ADMIN])
def test_other_roles_are_refused_with_the_reason_and_nothing_changes(desk, role):
    clinic, _, routine, _, _ = desk
    someone = StaffFactory(clinic=clinic, role=role)
    response = signed_in(someone).post("/work/bulk", {"items": [routine.pk], "action": "claim"})
    assert response.status_code == 403
    assert "data-refusal" in response.content.decode()
    assert WorkItem.objects.get(pk=routine.pk).status == WorkItem.Status.OPEN


def test_a_medical_assistant_may_act_in_bulk(desk):
    clinic, _, routine, _, _ = desk
    ma = StaffFactory(clinic=clinic, role=Role.MA)
    response = signed_in(ma).post("/work/bulk", {"items": [routine.pk], "action": "close"})
    assert response.status_code == 200
    assert WorkItem.objects.get(pk=routine.pk).status == WorkItem.Status.CLOSED


def test_the_post_needs_the_csrf_token(desk):
    _, clerk, routine, _, _ = desk
    client = Client(enforce_csrf_checks=True)
    client.force_login(clerk)
    response = client.post("/work/bulk", {"items": [routine.pk], "action": "claim"})
    assert response.status_code == 403
    assert WorkItem.objects.get(pk=routine.pk).status == WorkItem.Status.OPEN


def test_get_is_not_allowed(desk):
    _, clerk, _, _, _ = desk
    assert signed_in(clerk).get("/work/bulk").status_code == 405


def test_the_reassign_list_starts_with_nothing_chosen_and_is_grouped(desk):
    clinic, clerk, routine, _, _ = desk
    StaffFactory(clinic=clinic, role=Role.PHYSICIAN, username="dr.grey")
    html = signed_in(clerk).get(f"/work/items/{routine.pk}/").content.decode()
    select = re.search(r'<select id="reassign-target".*?</select>', html, re.S)[0]
    assert re.findall(r'<optgroup label="([^"]+)"', select) == ["Roles", "Queues", "People"]
    options = re.findall(r"<option([^>]*)>([^<]*)</option>", select)
    assert options[0] == (' value="" selected', "Choose a role, queue or person")
    assert all("selected" not in attrs for attrs, _ in options[1:])
    assert ' value="role:ma">Medical assistant' in select
    assert ' value="queue:' in select
    assert "dr.grey (Physician / APP)" in select


def test_a_single_reassign_with_nothing_chosen_is_refused_with_a_notice(desk):
    _, clerk, routine, _, _ = desk
    client = signed_in(clerk)
    response = client.post(
        f"/work/items/{routine.pk}/reassign", {"target": "", "reason": "x"}, follow=True
    )
    assert "Reassign to exactly one of" in response.content.decode()
    assert WorkItem.objects.get(pk=routine.pk).queue_id == routine.queue_id
