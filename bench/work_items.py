"""Work-items API and queue page server time at 10,000 and 1,000,000 open items.

One clinic, four pools; its open and claimed work built in PostgreSQL with set-based SQL
(INSERT ... SELECT over generate_series): patients, conversations, messages and work
items (90% open, 10% claimed; 5% emergent, 20% urgent, 75% routine), then ANALYZE.
Renders GET /api/v1/work-items (first page, bearer token) and GET /work/?queue=<nurse
pool> as a nurse in-process (Django test client: middleware, views, queries, templates,
no network) and prints p50 and p95 per size; the last line is the API's p95 at the
largest size, `work_items_p95: <p95> ms`.

    .venv/bin/python bench/work_items.py [--items 10000,1000000] [--requests 100]

Uses DATABASE_URL, else postgres://postgres@127.0.0.1:5432/portal_triage_work_items_bench
(made and migrated if missing). Each size rebuilds the clinic's rows.
"""

import argparse
import statistics
import time

from bench_database import use_bench_database

use_bench_database("portal_triage_work_items_bench")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from accounts.models import Clinic, Membership, Role, User  # noqa: E402
from accounts.services import issue_api_token  # noqa: E402
from routing.services import ensure_default_queues  # noqa: E402

SLUG = "bench-work-items"
PATIENTS = 20_000
CHUNK = 250_000


def build(items: int) -> tuple[User, int]:
    with connection.cursor() as cur:
        # The bench database holds only this clinic: start from empty tables.
        cur.execute(
            "TRUNCATE routing_workevent, routing_workitem, inbox_message, inbox_conversation,"
            " inbox_patient, inbox_patientdataaccess CASCADE"
        )
    clinic, _ = Clinic.objects.get_or_create(slug=SLUG, defaults={"name": "Bench clinic"})
    queues = ensure_default_queues(clinic=clinic)
    nurse, _ = User.objects.get_or_create(username="bench-work-items-nurse")
    Membership.objects.get_or_create(user=nurse, clinic=clinic, defaults={"role": Role.NURSE})
    queue_ids = [queues[r].pk for r in (Role.CLERICAL, Role.MA, Role.NURSE, Role.PHYSICIAN)]
    started = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO inbox_patient (id, created_at, updated_at, mrn, name,"
            " preferred_language, on_chemotherapy, clinic_id, phone)"
            " SELECT n, now(), now(), 'W' || n, 'Patient ' || n, 'en', false, %s, ''"
            " FROM generate_series(1, %s) AS n",
            [clinic.pk, PATIENTS],
        )
        for start in range(1, items + 1, CHUNK):
            end = min(items, start + CHUNK - 1)
            cur.execute(
                "INSERT INTO inbox_conversation (id, created_at, updated_at, external_id,"
                " subject, clinic_id, patient_id)"
                " SELECT n, now(), now(), 'c' || n, 'Question ' || n, %s, 1 + n %% %s"
                " FROM generate_series(%s, %s) AS n",
                [clinic.pk, PATIENTS, start, end],
            )
            cur.execute(
                "INSERT INTO inbox_message (id, created_at, updated_at, external_id, subject,"
                " body, category, sent_at, status, status_changed_at, clinic_id,"
                " conversation_id)"
                " SELECT n, now(), now(), 'm' || n, 'Question ' || n, 'Benchmark message.',"
                " 'general', now(), 'routed', now(), %s, n"
                " FROM generate_series(%s, %s) AS n",
                [clinic.pk, start, end],
            )
            cur.execute(
                "INSERT INTO routing_workitem (id, created_at, updated_at, status, acuity,"
                " acuity_rank, service_level, due_at, routing_reason, routing_decision,"
                " escalation_level, clinic_id, conversation_id, message_id, queue_id,"
                " first_response_role, claimed_by_id, claimed_at)"
                " SELECT n, now(), now(), CASE WHEN claimed THEN 'claimed' ELSE 'open' END,"
                " (ARRAY['emergent','urgent','routine'])[rank + 1], rank, 'nurse',"
                " now() + (n %% 10000) * interval '1 minute', '', '{}', 0, %s, n, n,"
                " (%s::bigint[])[1 + n %% 4], '',"
                " CASE WHEN claimed THEN %s END, CASE WHEN claimed THEN now() END"
                " FROM (SELECT n, n %% 10 = 0 AS claimed,"
                "       CASE WHEN n %% 20 = 0 THEN 0 WHEN n %% 5 = 0 THEN 1 ELSE 2 END AS rank"
                "       FROM generate_series(%s, %s) AS n) AS d",
                [clinic.pk, queue_ids, nurse.pk, start, end],
            )
            print(f"  {end:,} items ({time.perf_counter() - started:.0f} s)", flush=True)
        for table in ("inbox_patient", "inbox_conversation", "inbox_message", "routing_workitem"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {items + PATIENTS})"
            )
            cur.execute(f"ANALYZE {table}")
    return nurse, queues[Role.NURSE].pk


def timed(client: Client, path: str, requests: int, **headers) -> list[float]:
    client.get(path, **headers)  # warm: caches, connection, templates
    times = []
    for _ in range(requests):
        t0 = time.perf_counter()
        response = client.get(path, **headers)
        times.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return times


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", default="10000,1000000")
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    last = 0.0
    for items in [int(n) for n in args.items.split(",")]:
        print(f"building {items:,} open items", flush=True)
        nurse, queue_id = build(items)
        _, token = issue_api_token(user=nurse, created_by=None)
        api = timed(
            Client(SERVER_NAME="localhost"),
            "/api/v1/work-items",
            args.requests,
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        page_client = Client(SERVER_NAME="localhost")
        page_client.force_login(nurse)
        page = timed(page_client, f"/work/?queue={queue_id}", args.requests)
        for name, times in (("GET /api/v1/work-items", api), ("GET /work/?queue=", page)):
            print(
                f"{items:>9,} items  {name:<24} p50 {statistics.median(times):6.1f} ms"
                f"  p95 {p95(times):6.1f} ms  ({len(times)} requests)"
            )
        last = p95(api)
    print(f"work_items_p95: {last:.1f} ms")


if __name__ == "__main__":
    main()
