"""The counts of the staff queue page: per pool in the navigation, per acuity and overdue
for what is shown, the title's badge and My work's. Each is capped at COUNT_CAP ("1000+"),
the pools' counts are one statement and My work's another, however many items."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from routing import selectors
from routing.models import WorkItem
from routing.services import ensure_default_queues
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.routing.test_work_items_api import work_item

pytestmark = pytest.mark.django_db


def held_by(person, item: WorkItem) -> WorkItem:
    item.hold_for(person, timezone.now())
    item.save()
    return item


@pytest.fixture
def clinic_pools():
    clinic = ClinicFactory()
    queues = ensure_default_queues(clinic=clinic)
    return clinic, queues[Role.NURSE], queues[Role.CLERICAL]


def test_pool_counts_count_each_pools_open_items_per_acuity_and_overdue_of_the_one_shown(
    clinic_pools,
):
    clinic, nurse_pool, clerical_pool = clinic_pools
    work_item(nurse_pool, acuity="emergent", rank=0, due_in_minutes=-5)  # overdue
    work_item(nurse_pool, acuity="urgent", rank=1, due_in_minutes=30)
    work_item(nurse_pool, acuity="urgent", rank=1, due_in_minutes=-1)  # overdue
    work_item(nurse_pool, acuity="routine", rank=2, due_in_minutes=600)
    # Not waiting in the pool: held, answered or closed.
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    held_by(nurse, work_item(nurse_pool, acuity="emergent", rank=0, due_in_minutes=-9))
    work_item(nurse_pool, acuity="urgent", rank=1, due_in_minutes=-9, status="closed")
    work_item(clerical_pool, acuity="routine", rank=2, due_in_minutes=-9)

    counts = selectors.pool_counts(
        queues=[nurse_pool, clerical_pool], overdue_in=nurse_pool, now=timezone.now()
    )

    assert counts[nurse_pool.pk] == {
        "emergent": 1,
        "urgent": 2,
        "routine": 1,
        "total": 4,
        "acute": 3,
        "overdue": 2,
    }
    # The pool not shown: no overdue count is read for it.
    assert counts[clerical_pool.pk] == {
        "emergent": 0,
        "urgent": 0,
        "routine": 1,
        "total": 1,
        "acute": 0,
    }
    assert selectors.waiting_acute_count(queue=nurse_pool) == counts[nurse_pool.pk]["acute"]


def test_pool_counts_of_no_pools_read_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert selectors.pool_counts(queues=[], overdue_in=None, now=timezone.now()) == {}


def test_counts_stop_at_the_cap_and_a_sum_reaches_it_when_a_part_did(clinic_pools, monkeypatch):
    _, nurse_pool, _ = clinic_pools
    monkeypatch.setattr(selectors, "COUNT_CAP", 3)
    for _ in range(4):
        work_item(nurse_pool, acuity="routine", rank=2, due_in_minutes=-5)
    work_item(nurse_pool, acuity="emergent", rank=0, due_in_minutes=60)

    counts = selectors.pool_counts(queues=[nurse_pool], overdue_in=nurse_pool, now=timezone.now())

    assert counts[nurse_pool.pk] == {
        "emergent": 1,
        "urgent": 0,
        "routine": 3,
        "total": 3,
        "acute": 1,
        "overdue": 3,
    }


def test_my_work_counts_only_the_persons_held_items_of_the_clinic(clinic_pools, monkeypatch):
    clinic, nurse_pool, _ = clinic_pools
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    colleague = StaffFactory(clinic=clinic, role=Role.NURSE)
    held_by(nurse, work_item(nurse_pool, acuity="emergent", rank=0, due_in_minutes=-5))
    held_by(nurse, work_item(nurse_pool, acuity="routine", rank=2, due_in_minutes=-5))
    held_by(nurse, work_item(nurse_pool, acuity="routine", rank=2, due_in_minutes=90))
    held_by(colleague, work_item(nurse_pool, acuity="urgent", rank=1, due_in_minutes=-5))
    work_item(nurse_pool, acuity="urgent", rank=1, due_in_minutes=-5)  # in the pool, unheld
    other_pool = ensure_default_queues(clinic=ClinicFactory())[Role.NURSE]
    held_by(nurse, work_item(other_pool, acuity="urgent", rank=1, due_in_minutes=-5))

    counts = selectors.my_work_counts(user=nurse, clinic=clinic, now=timezone.now())

    assert counts == {
        "emergent": 1,
        "urgent": 0,
        "routine": 2,
        "total": 3,
        "acute": 1,
        "overdue": 2,
    }
    monkeypatch.setattr(selectors, "COUNT_CAP", 2)
    capped = selectors.my_work_counts(user=nurse, clinic=clinic, now=timezone.now())
    assert (capped["routine"], capped["total"], capped["overdue"]) == (2, 2, 2)


def shown_counts(page: str) -> dict:
    return dict(re.findall(r'data-count="(\w+)">([^<]*)<', page))


def test_the_queue_page_shows_the_pools_counts_and_the_badge(client, clinic_pools):
    clinic, nurse_pool, clerical_pool = clinic_pools
    work_item(nurse_pool, acuity="emergent", rank=0, due_in_minutes=-5)
    work_item(nurse_pool, acuity="urgent", rank=1, due_in_minutes=30)
    work_item(clerical_pool, acuity="routine", rank=2, due_in_minutes=30)
    client.force_login(StaffFactory(clinic=clinic, role=Role.NURSE))

    page = client.get("/work/", {"queue": nurse_pool.pk}).content.decode()

    assert shown_counts(page) == {"emergent": "1", "urgent": "1", "routine": "0", "overdue": "1"}
    assert "<title>(2) Nurse triage" in page  # waiting emergent and urgent
    nav = re.search(rf'id="pool-{clerical_pool.pk}".*?</a>', page, re.S).group(0)
    assert '<span class="badge">1<span class="sr-only"> open</span>' in nav


def test_capped_counts_show_a_plus(client, clinic_pools, monkeypatch):
    clinic, nurse_pool, _ = clinic_pools
    monkeypatch.setattr(selectors, "COUNT_CAP", 2)
    for _ in range(3):
        work_item(nurse_pool, acuity="emergent", rank=0, due_in_minutes=-5)
    client.force_login(StaffFactory(clinic=clinic, role=Role.NURSE))

    page = client.get("/work/", {"queue": nurse_pool.pk}).content.decode()

    assert shown_counts(page)["emergent"] == "2+"
    assert shown_counts(page)["overdue"] == "2+"
    nav = re.search(rf'id="pool-{nurse_pool.pk}".*?</a>', page, re.S).group(0)
    assert '<span class="badge emergent">2+<span aria-hidden="true">!</span>' in nav
    assert "<title>(2+) Nurse triage" in page


def test_my_work_shows_the_persons_held_counts_and_the_home_pools_badge(client, clinic_pools):
    clinic, nurse_pool, _ = clinic_pools
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    held_by(nurse, work_item(nurse_pool, acuity="urgent", rank=1, due_in_minutes=-5))
    work_item(nurse_pool, acuity="emergent", rank=0, due_in_minutes=30)  # waiting in the pool
    client.force_login(nurse)

    page = client.get("/work/", {"queue": "mine"}).content.decode()

    assert shown_counts(page) == {"emergent": "0", "urgent": "1", "routine": "0", "overdue": "1"}
    assert "<title>(1) My work" in page  # the home pool's waiting emergent item


@pytest.mark.parametrize(("queue", "statements"), [("pool", 1), ("mine", 2)])
def test_the_page_reads_its_counts_in_one_statement_per_kind(
    client, clinic_pools, queue, statements
):
    clinic, nurse_pool, _ = clinic_pools
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    work_item(nurse_pool, acuity="urgent", rank=1, due_in_minutes=30)
    held_by(nurse, work_item(nurse_pool, acuity="urgent", rank=1, due_in_minutes=30))
    client.force_login(nurse)

    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/work/", {"queue": nurse_pool.pk if queue == "pool" else "mine"})

    assert response.status_code == 200
    counting = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"]]
    assert len(counting) == statements, counting
