"""Queue page server time with 100,000 open work items in one clinic, on PostgreSQL.

Renders GET /work/?queue=<nurse triage> in-process (Django test client: the whole
request through middleware, views, queries and templates, no network) and prints p50
and p95 and the number of SQL queries per page; the last line is `queue_page_p95: <p95> ms`.

    DEBUG=1 .venv/bin/python bench/queue_page.py [--items 100000] [--requests 200] [--rebuild]

Uses DATABASE_URL, else postgres://postgres@127.0.0.1:5432/portal_triage_bench (made and
migrated if missing; the items are kept between runs unless --rebuild).
"""

import argparse
import datetime
import random
import statistics
import sys
import time

from bench_database import use_bench_database

use_bench_database("portal_triage_bench")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Clinic, Membership, Role, User  # noqa: E402
from inbox.models import Conversation, Message, Patient  # noqa: E402
from routing.models import Queue, WorkItem  # noqa: E402
from routing.services import ensure_default_queues  # noqa: E402
from triage.ml.labels import ACUITY_RANK  # noqa: E402

SLUG = "bench-clinic"
BATCH = 5_000


def build(items: int) -> None:
    rng = random.Random(7)
    clinic = Clinic.objects.create(name="Bench clinic", slug=SLUG)
    queues = ensure_default_queues(clinic=clinic)
    nurse_queue = queues[Role.NURSE]
    user = User.objects.create_user("bench-nurse")  # logged in by force_login, no password
    Membership.objects.create(user=user, clinic=clinic, role=Role.NURSE)
    patients = Patient.objects.bulk_create(
        [Patient(clinic=clinic, mrn=f"B{n:07d}", name=f"Patient {n}") for n in range(2_000)]
    )
    now = timezone.now()
    for start in range(0, items, BATCH):
        size = min(BATCH, items - start)
        conversations = Conversation.objects.bulk_create(
            [
                Conversation(
                    clinic=clinic,
                    patient=patients[(start + i) % len(patients)],
                    external_id=f"c{start + i}",
                )
                for i in range(size)
            ]
        )
        messages = Message.objects.bulk_create(
            [
                Message(
                    clinic=clinic,
                    conversation=c,
                    external_id=f"m{start + i}",
                    subject=f"Question {start + i}",
                    body="Benchmark message.",
                    sent_at=now,
                    status=Message.Status.ROUTED,
                )
                for i, c in enumerate(conversations)
            ]
        )
        work = []
        for c, m in zip(conversations, messages, strict=True):
            acuity = rng.choices(["emergent", "urgent", "routine"], weights=[3, 17, 80])[0]
            work.append(
                WorkItem(
                    clinic=clinic,
                    conversation=c,
                    message=m,
                    queue=nurse_queue,
                    acuity=acuity,
                    acuity_rank=ACUITY_RANK[acuity],
                    service_level="nurse",
                    due_at=now + datetime.timedelta(minutes=rng.randint(-600, 6000)),
                    routing_reason="benchmark",
                )
            )
        WorkItem.objects.bulk_create(work)
        print(f"  {start + size:,} / {items:,} open work items", file=sys.stderr)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # what autovacuum does on a live database


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("This benchmark is for PostgreSQL: set DATABASE_URL.")
    call_command("migrate", verbosity=0)
    clinic = Clinic.objects.filter(slug=SLUG).first()
    if clinic and (args.rebuild or WorkItem.objects.filter(clinic=clinic).count() != args.items):
        print("dropping the old benchmark data...", file=sys.stderr)
        call_command("flush", interactive=False, verbosity=0)
        clinic = None
    if clinic is None:
        print(f"building {args.items:,} open work items...", file=sys.stderr)
        build(args.items)
    clinic = Clinic.objects.get(slug=SLUG)
    queue = Queue.objects.get(clinic=clinic, role=Role.NURSE, is_role_default=True)
    open_items = WorkItem.objects.filter(queue=queue, status="open").count()

    client = Client(SERVER_NAME="localhost")
    client.force_login(User.objects.get(username="bench-nurse"))
    url = f"/work/?queue={queue.pk}"
    for _ in range(10):  # warm caches and connections
        assert client.get(url).status_code == 200
    reset_queries()  # with DEBUG on, the full query log would hide new queries
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    timings = []
    for _ in range(args.requests):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    timings.sort()
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(f"open work items in the queue: {open_items:,}")
    print(
        f"queue page ({args.requests} requests): p50 {statistics.median(timings):.1f} ms, "
        f"p95 {p95:.1f} ms, max {timings[-1]:.1f} ms; {len(queries)} SQL queries per page"
    )
    print(f"queue_page_p95: {p95:.1f} ms")


if __name__ == "__main__":
    main()
