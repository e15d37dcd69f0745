"""Live arrival on an open queue page: the rows' background refresh (answered 204 when
nothing changed, redrawn in queue order with the title's count when something did), the
count in the title, and the opt-in of the emergent arrival alert."""

import json
import re
import time
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.middleware import LAST_ACTIVITY
from accounts.models import Role
from inbox.models import PatientDataAccess
from routing import selectors, work_items
from routing.models import WorkItem
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.routing.factories import routed_item

pytestmark = pytest.mark.django_db

POLL = {"X-Background-Poll": "1", "HX-Request": "true"}


def signed_in(client, user):
    client.force_login(user)
    return client


def drawn(content: bytes) -> tuple[str | None, list[int]]:
    """The page's title and its rows' item ids, in order."""
    page = content.decode()
    title = re.search(r"<title>(.*?)</title>", page, re.S)
    ids = [int(i) for i in re.findall(r'data-item-id="(\d+)"', page)]
    return (" ".join(title.group(1).split()) if title else None), ids


def version_of(content: bytes) -> str:
    return re.search(r'id="live-rows"[^>]*data-version="([0-9a-f]+)"', content.decode()).group(1)


def poll(client, queue_param, *, shown: int, version: str):
    return client.get(
        "/work/rows", {"queue": queue_param, "shown": shown, "version": version}, headers=POLL
    )


@pytest.fixture
def nurse_page(client):
    """A nurse with triage's page open: an urgent and a routine item on it."""
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    urgent = routed_item(clinic, acuity="urgent", subject="Fever since last night")
    routine = routed_item(clinic, subject="Refill question")
    page = signed_in(client, nurse).get("/work/")
    return SimpleNamespace(clinic=clinic, nurse=nurse, urgent=urgent, routine=routine, page=page)


def test_the_title_counts_unclaimed_emergent_and_urgent_items_of_the_pool(client):
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    routed_item(clinic, acuity="emergent")
    routed_item(clinic, acuity="urgent")
    claimed = routed_item(clinic, acuity="urgent")
    routed_item(clinic)  # routine: not counted
    routed_item(clinic, acuity="urgent", level="clerical")  # another pool
    work_items.claim(actor=nurse, item_id=claimed.pk)
    signed_in(client, nurse)

    title, _ = drawn(client.get("/work/").content)
    assert title == "(2) Nurse triage · Portal triage"
    # My work holds the person's own items: its title counts what waits in their home pool.
    title, ids = drawn(client.get("/work/?queue=mine").content)
    assert (title, ids) == ("(2) My work · Portal triage", [claimed.pk])
    assert selectors.waiting_acute_count(queue=claimed.queue) == 2


def test_an_unchanged_page_is_answered_204_and_nothing_is_logged(nurse_page, client):
    given = nurse_page
    logged = PatientDataAccess.objects.count()

    response = poll(client, given.urgent.queue_id, shown=2, version=version_of(given.page.content))

    assert response.status_code == 204
    assert response.content == b""
    assert PatientDataAccess.objects.count() == logged  # nothing shown, nothing logged


def test_an_arrival_redraws_the_rows_in_queue_order_with_the_title(nurse_page, client):
    given = nurse_page
    version = version_of(given.page.content)
    assert drawn(given.page.content) == (
        "(1) Nurse triage · Portal triage",
        [given.urgent.pk, given.routine.pk],
    )
    emergent = routed_item(given.clinic, acuity="emergent", subject="Crushing chest pain")
    later_urgent = routed_item(given.clinic, acuity="urgent")  # due after the first urgent one

    response = poll(client, given.urgent.queue_id, shown=2, version=version)

    assert response.status_code == 200
    title, ids = drawn(response.content)
    assert ids == [emergent.pk, given.urgent.pk, later_urgent.pk, given.routine.pk]
    assert title == "(3) Nurse triage · Portal triage"
    # The page keeps the new version (static/js/live.js) and its counts refresh on it.
    trigger = json.loads(response["HX-Trigger-After-Swap"])
    new_version = trigger["work-rows-changed"]["version"]
    assert new_version != version
    # The redrawn rows are logged, once per patient shown.
    logged = PatientDataAccess.objects.filter(user=given.nurse).order_by("-pk")[:4]
    assert sorted(a.object_id for a in logged) == sorted(ids)
    # Drawn with that version, the next poll has nothing to redraw.
    assert poll(client, given.urgent.queue_id, shown=4, version=new_version).status_code == 204


@pytest.mark.parametrize("change", ["claimed elsewhere", "moved out", "acuity raised"])
def test_a_row_that_leaves_or_changes_redraws_the_page(nurse_page, client, change):
    given = nurse_page
    other = StaffFactory(clinic=given.clinic, role=Role.NURSE)
    if change == "claimed elsewhere":
        work_items.claim(actor=other, item_id=given.routine.pk)
        expected = [given.urgent.pk]
    elif change == "moved out":
        work_items.claim(actor=other, item_id=given.routine.pk)
        work_items.reassign(
            actor=other, item_id=given.routine.pk, reason="clerical", role="clerical"
        )
        expected = [given.urgent.pk]
    else:
        WorkItem.objects.filter(pk=given.routine.pk).update(acuity="emergent", acuity_rank=0)
        expected = [given.routine.pk, given.urgent.pk]

    response = poll(client, given.urgent.queue_id, shown=2, version=version_of(given.page.content))

    assert response.status_code == 200
    assert drawn(response.content)[1] == expected


def test_rows_fetched_with_load_more_stay_after_a_redraw(client):
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    items = [routed_item(clinic, acuity=("urgent", "routine")[n % 2]) for n in range(57)]
    queue_id = items[0].queue_id
    signed_in(client, nurse)
    first = client.get("/work/")
    assert len(drawn(first.content)[1]) == selectors.PAGE_SIZE
    cursor = re.search(r"after=([\d.]+)", first.content.decode()).group(1)
    more = client.get("/work/rows", {"queue": queue_id, "after": cursor})
    assert len(drawn(more.content)[1]) == 7
    emergent = routed_item(clinic, acuity="emergent")

    # The page shows 57 rows: 57 come back, the arrival first; the last one moved down
    # behind "Load more".
    response = poll(client, queue_id, shown=57, version=version_of(first.content))
    ids = drawn(response.content)[1]
    assert (len(ids), ids[0]) == (57, emergent.pk)
    assert "Load more" in response.content.decode()
    # A page showing the first page only stays a first page, with "Load more".
    response = poll(client, queue_id, shown=50, version="older")
    assert len(drawn(response.content)[1]) == selectors.PAGE_SIZE
    assert "Load more" in response.content.decode()


def test_my_work_is_refreshed_too(client):
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    mine = routed_item(clinic, acuity="urgent")
    work_items.claim(actor=nurse, item_id=mine.pk)
    signed_in(client, nurse)
    page = client.get("/work/?queue=mine")
    assert poll(client, "mine", shown=1, version=version_of(page.content)).status_code == 204

    emergent = routed_item(clinic, acuity="emergent")
    work_items.claim(actor=nurse, item_id=emergent.pk)
    response = poll(client, "mine", shown=1, version=version_of(page.content))

    assert drawn(response.content)[1] == [emergent.pk, mine.pk]


def test_the_poll_does_not_keep_the_session_alive(nurse_page, client, settings):
    given = nurse_page
    settings.SESSION_IDLE_TIMEOUT_SECONDS = 60
    session = client.session
    session[LAST_ACTIVITY] = time.time() - 30
    session.save()

    poll(client, given.urgent.queue_id, shown=2, version=version_of(given.page.content))
    routed_item(given.clinic, acuity="emergent")
    assert poll(client, given.urgent.queue_id, shown=2, version="older").status_code == 200

    assert client.session[LAST_ACTIVITY] < time.time() - 29  # neither poll counted


def test_an_unchanged_poll_reads_little_and_the_same_however_long_the_queue(client):
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    signed_in(client, nurse)
    queries = []
    for batch in (3, 60):
        for _ in range(batch):
            routed_item(clinic)
        page = client.get("/work/")
        queue_id = WorkItem.objects.first().queue_id
        shown = len(drawn(page.content)[1])
        with CaptureQueriesContext(connection) as captured:
            response = poll(client, queue_id, shown=shown, version=version_of(page.content))
        assert response.status_code == 204
        queries.append([q["sql"] for q in captured.captured_queries])
    assert len(queries[0]) == len(queries[1])
    # Session, user, membership and pools (as every page), the title's count, and the
    # positions of the page's rows: no patient, message or access log.
    assert len(queries[1]) <= 6, queries[1]
    reads = " ".join(queries[1])
    assert "inbox_patient" not in reads
    assert "inbox_message" not in reads


def test_another_clinics_pool_is_not_polled(client):
    nurse = StaffFactory(clinic=ClinicFactory(), role=Role.NURSE)
    theirs = routed_item(ClinicFactory())
    signed_in(client, nurse)
    assert poll(client, theirs.queue_id, shown=1, version="x").status_code == 404
    assert not PatientDataAccess.objects.exists()


def test_the_arrival_alert_is_turned_on_and_off_for_the_person_signed_in(client):
    clinic = ClinicFactory()
    physician = StaffFactory(clinic=clinic, role=Role.PHYSICIAN)
    colleague = StaffFactory(clinic=clinic, role=Role.PHYSICIAN)
    signed_in(client, physician)
    assert 'aria-pressed="false"' in client.get("/work/").content.decode()

    response = client.post("/work/arrival-alert", {"on": "1", "queue": "mine"})
    assert response.status_code == 302
    assert response.url == "/work/?queue=mine"
    physician.refresh_from_db()
    assert physician.emergent_arrival_alert is True
    assert 'aria-pressed="true"' in client.get("/work/").content.decode()

    # From the page (htmx): the switch comes back, in its new state.
    response = client.post("/work/arrival-alert", {"on": "0"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert 'id="arrival-alert-toggle"' in response.content.decode()
    assert 'aria-pressed="false"' in response.content.decode()
    physician.refresh_from_db()
    colleague.refresh_from_db()
    assert physician.emergent_arrival_alert is False
    assert colleague.emergent_arrival_alert is False  # only the person's own

    # It says the state wanted, so a double submit does not undo it.
    client.post("/work/arrival-alert", {"on": "1"})
    client.post("/work/arrival-alert", {"on": "1"})
    physician.refresh_from_db()
    assert physician.emergent_arrival_alert is True


def test_the_arrival_alert_needs_a_signed_in_post(client):
    assert client.post("/work/arrival-alert", {"on": "1"}).url.startswith("/login/")
    signed_in(client, StaffFactory(clinic=ClinicFactory()))
    assert client.get("/work/arrival-alert").status_code == 405
