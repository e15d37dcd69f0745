"""Every list page's query is a range of its index, read in order: no list sorts its
whole table, so each stays flat from 10,000 to 1,000,000 rows (bench/work_items.py).

The SQL is the one the endpoint really runs (captured from the request), explained by
PostgreSQL with sequential scans and sorts priced out: a plan still holding a Sort, or
reading another index, means no index can deliver that filter in that order, which is
what a partial index whose predicate the query does not imply looks like."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from billing.models import EVisit
from inbox.models import OutgoingMessage
from routing.services import ensure_default_queues
from tests.accounts.factories import ClinicFactory, IntegrationFactory, StaffFactory
from tests.routing.test_work_items_api import work_item

pytestmark = pytest.mark.django_db

QUEUE_ORDER = 'ORDER BY "routing_workitem"."acuity_rank" ASC, "routing_workitem"."due_at" ASC'


def list_query(queries, table: str, order_by: str) -> str:
    matching = [q["sql"] for q in queries if f'FROM "{table}"' in q["sql"] and order_by in q["sql"]]
    assert len(matching) == 1, [q["sql"] for q in queries]
    return matching[0]


def plan_of(sql: str) -> dict:
    with connection.cursor() as cursor:
        # Priced out, not forbidden: the planner still picks them when nothing else fits.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
        return cursor.fetchone()[0][0]["Plan"]


def nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def assert_read_in_order_from(plan: dict, index: str) -> None:
    kinds = [node["Node Type"] for node in nodes(plan)]
    assert "Sort" not in kinds, kinds
    assert "Incremental Sort" not in kinds, kinds
    used = [node.get("Index Name") for node in nodes(plan) if node.get("Relation Name")]
    assert index in used, used


def test_work_items_api_reads_the_clinics_unanswered_work_in_order(client_for):
    clinic = ClinicFactory()
    queue = ensure_default_queues(clinic=clinic)[Role.NURSE]
    work_item(queue, acuity="urgent", rank=1, due_in_minutes=30)
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)

    with CaptureQueriesContext(connection) as ctx:
        assert client_for(nurse).get("/api/v1/work-items").status_code == 200

    sql = list_query(ctx.captured_queries, "routing_workitem", QUEUE_ORDER)
    assert_read_in_order_from(plan_of(sql), "workitem_unanswered_by_clinic")


def test_queue_page_reads_the_pools_open_items_in_order(client):
    clinic = ClinicFactory()
    queue = ensure_default_queues(clinic=clinic)[Role.NURSE]
    work_item(queue, acuity="urgent", rank=1, due_in_minutes=30)
    client.force_login(StaffFactory(clinic=clinic, role=Role.NURSE))

    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/work/", {"queue": queue.pk}).status_code == 200

    rows = [
        q
        for q in ctx.captured_queries
        if '"inbox_patient"' in q["sql"]  # the page's rows, not its counts or version
    ]
    sql = list_query(rows, "routing_workitem", QUEUE_ORDER)
    assert_read_in_order_from(plan_of(sql), "workitem_open_by_queue")


def test_outbox_reads_the_clinics_undelivered_replies_in_order(client_for):
    clinic = ClinicFactory()
    item = work_item(
        ensure_default_queues(clinic=clinic)[Role.NURSE], acuity="routine", rank=2, due_in_minutes=9
    )
    OutgoingMessage.objects.create(
        clinic=clinic,
        conversation=item.conversation,
        kind=OutgoingMessage.Kind.STAFF_REPLY,
        body="Thanks, see you Monday.",
    )
    portal = IntegrationFactory(clinic=clinic)

    with CaptureQueriesContext(connection) as ctx:
        response = client_for(portal.account).get(
            "/api/v1/outgoing-messages", {"clinic": clinic.slug}
        )
        assert response.status_code == 200

    sql = list_query(
        ctx.captured_queries, "inbox_outgoingmessage", 'ORDER BY "inbox_outgoingmessage"."id"'
    )
    assert_read_in_order_from(plan_of(sql), "outgoing_undelivered_by_clinic")


@pytest.mark.parametrize("status", ["to_review", "all"])
def test_evisit_list_reads_the_clinics_newest_first_in_order(client, status):
    clinic = ClinicFactory()
    item = work_item(
        ensure_default_queues(clinic=clinic)[Role.NURSE], acuity="routine", rank=2, due_in_minutes=9
    )
    EVisit.objects.create(clinic=clinic, conversation=item.conversation, status=EVisit.Status.READY)
    client.force_login(StaffFactory(clinic=clinic, role=Role.BILLING))

    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/billing/", {"status": status}).status_code == 200

    sql = list_query(
        ctx.captured_queries, "billing_evisit", 'ORDER BY "billing_evisit"."window_start" DESC'
    )
    assert_read_in_order_from(plan_of(sql), "evisit_by_clinic_newest")
