"""Every list page's query is a range of its index, read in order: no list sorts its
whole table, so each stays flat from 10,000 to 1,000,000 rows (bench/work_items.py).

The SQL is the one the endpoint really runs (captured from the request), explained by
PostgreSQL with sequential scans and sorts priced out: a plan still holding a Sort, or
reading another index, means no index can deliver that filter in that order, which is
what a partial index whose predicate the query does not imply looks like."""

import re

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
# In a subquery selecting only the id, Django orders by it as column 1.
INDEX_ORDER_LIMIT = re.compile(
    r'ORDER BY U0\."acuity_rank" ASC, U0\."due_at" ASC, (U0\."id"|1) ASC LIMIT '
)


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


def test_my_work_reads_the_persons_held_items_in_order(client):
    clinic = ClinicFactory()
    queue = ensure_default_queues(clinic=clinic)[Role.NURSE]
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    item = work_item(queue, acuity="urgent", rank=1, due_in_minutes=30)
    item.hold_for(nurse, item.created_at)
    item.save()
    client.force_login(nurse)

    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/work/", {"queue": "mine"}).status_code == 200

    rows = [q for q in ctx.captured_queries if '"inbox_patient"' in q["sql"]]
    sql = list_query(rows, "routing_workitem", QUEUE_ORDER)
    assert_read_in_order_from(plan_of(sql), "workitem_held_by_person")


def assert_capped_counts_read_in_order_from(sql: str, index: str) -> None:
    # Each capped count is a range of the index read in its order, so it stops after
    # COUNT_CAP entries: no Sort, and no other way into the table. The ORDER BY matters
    # beyond this plan: with a LIMIT alone PostgreSQL may scan the whole table, expecting
    # COUNT_CAP rows early in it, and read all of it when there are none (110 ms at 1M).
    limits = sql.count(" LIMIT ")
    assert limits, sql
    assert len(INDEX_ORDER_LIMIT.findall(sql)) == limits, sql
    plan = plan_of(sql)
    kinds = [node["Node Type"] for node in nodes(plan)]
    assert "Sort" not in kinds, kinds
    scans = [node for node in nodes(plan) if node.get("Relation Name") == "routing_workitem"]
    assert scans, kinds
    assert {node.get("Index Name") for node in scans} == {index}, scans


@pytest.mark.parametrize(
    ("shown", "index"),
    [("pool", "workitem_open_by_queue"), ("mine", "workitem_held_by_person")],
)
def test_queue_page_counts_are_capped_ranges_of_their_index(client, shown, index):
    clinic = ClinicFactory()
    queue = ensure_default_queues(clinic=clinic)[Role.NURSE]
    work_item(queue, acuity="urgent", rank=1, due_in_minutes=30)
    client.force_login(StaffFactory(clinic=clinic, role=Role.NURSE))

    with CaptureQueriesContext(connection) as ctx:
        wanted = queue.pk if shown == "pool" else "mine"
        assert client.get("/work/", {"queue": wanted}).status_code == 200

    counts = [q["sql"] for q in ctx.captured_queries if "SELECT COUNT(*)" in q["sql"]]
    # The navigation's counts of every pool (with the acuity counts of the pool shown), and
    # on My work the person's own.
    pools = [sql for sql in counts if 'FROM "routing_queue"' in sql]
    held = [sql for sql in counts if '"claimed_by_id"' in sql]
    assert len(pools) == 1, counts
    assert len(held) == (1 if shown == "mine" else 0), counts
    assert_capped_counts_read_in_order_from(pools[0], "workitem_open_by_queue")
    for sql in held:
        assert_capped_counts_read_in_order_from(sql, index)


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
