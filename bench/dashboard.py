"""Operations dashboard server time over a year of history: 1,000,000 closed work items.

Builds one clinic's year in PostgreSQL with set-based SQL (INSERT ... SELECT over
generate_series, in chunks so progress shows): patients, conversations, routed messages,
classifications, closed work items with their first read, first response and close, the
routed/responded/closed events (and a reassignment for the items moved between roles),
SLA breaches and staff corrections. Then renders GET /operations/ as the clinic's
administrator in-process (Django test client: middleware, view, queries and template, no
network) and prints p50, p95 and max, the SQL queries per page and the row counts.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_triage_ops_bench \\
        .venv/bin/python bench/dashboard.py --items 1000000 [--requests 40] [--rebuild]

The database is made and migrated if missing; the data is kept between runs unless
--rebuild or a different --items. Building 1,000,000 items takes minutes.

The figures are a simulation, not a clinic's: 5% emergent, 20% urgent, 75% routine;
roles by acuity; times from receipt to first read, from read to first response and from
response to close log-normal with acuity-dependent medians, slower early in the year
(the chart has something to show); preferred language en/es/zh/vi/tl/ko/ru; ages from
child to 90. Due times approximate the default SLA targets on the wall clock (emergent
15 min; urgent 4 business hours ~ 6 h; routine 3 business days ~ 4.5 days).
"""

# Table and column names in the SQL below come from the models and this file, never from
# input: the S608 warning does not apply.
# ruff: noqa: S608

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "1")
DEFAULT_DB = "portal_triage_ops_bench"
os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{DEFAULT_DB}")


def create_database(*, drop: bool) -> None:
    """Make the bench database if missing; with drop, a new empty one (the data
    migrations' rows, such as the administrators group, come back with migrate)."""
    import psycopg
    from psycopg import sql

    url = os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
    info = psycopg.conninfo.conninfo_to_dict(url)
    name = info.pop("dbname")
    with psycopg.connect(**info, dbname="postgres", autocommit=True) as c:
        if drop:
            c.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        if not c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


if os.environ["DATABASE_URL"].startswith(("postgres://", "postgresql://")):
    create_database(drop=False)

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import CLINIC_ADMINISTRATORS_GROUP, Clinic, Membership, Role, User  # noqa: E402
from inbox.models import Conversation, Message, Patient  # noqa: E402
from routing.models import OperationsSnapshot, Queue, SlaBreach, WorkEvent, WorkItem  # noqa: E402
from routing.operations_rollup import refresh_snapshots  # noqa: E402
from routing.services import ensure_default_queues  # noqa: E402
from triage.models import Classification, LabelCorrection  # noqa: E402

SLUG = "bench-operations"
ADMIN = "bench-ops-admin"
CHUNK = 100_000
PATIENTS_PER_ITEM = 5  # a patient writes five times a year on average
STAFF = {Role.CLERICAL: 6, Role.MA: 8, Role.NURSE: 12, Role.PHYSICIAN: 14}


def log(text: str, started: float) -> None:
    print(f"[{time.perf_counter() - started:7.1f} s] {text}", file=sys.stderr, flush=True)


_WARNED: set = set()


def insert_select(model, columns: dict[str, str], source: str, params=()) -> int:
    """INSERT INTO <model's table> SELECT <expressions> FROM <source>; params are the
    source's (the expressions take none).

    Columns not given take the field's Python default (as Django would save it) or NULL,
    so a field added later with a default does not break the bench; a required field
    with neither is named."""
    names, values, bound = [], [], []
    unknown = set(columns) - {field.column for field in model._meta.concrete_fields}
    if unknown and (model, frozenset(unknown)) not in _WARNED:
        _WARNED.add((model, frozenset(unknown)))
        print(
            f"  {model.__name__} has no column {', '.join(sorted(unknown))}: left out",
            file=sys.stderr,
        )
    for field in model._meta.concrete_fields:
        column = field.column
        if column in columns:
            names.append(column)
            values.append(columns[column])
        elif field.has_default() or (not field.null and field.get_default() is not None):
            # What Django would save: the declared default, or "" for a blank text field.
            names.append(column)
            values.append("%s")
            bound.append(field.get_db_prep_save(field.get_default(), connection))
        elif not field.null and not field.primary_key:
            raise SystemExit(f"bench/dashboard.py: no value for {model.__name__}.{field.name}")
    table = model._meta.db_table
    quoted = [connection.ops.quote_name(name) for name in names]  # "window" is a keyword
    statement = (
        f"INSERT INTO {table} ({', '.join(quoted)}) SELECT {', '.join(values)} FROM {source}"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [*bound, *params])
        return cursor.rowcount


def reset_sequence(model) -> None:
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence(%s, 'id'), "
            f"(SELECT coalesce(max(id), 1) FROM {table}))",
            [table],
        )


def next_id(model) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {model._meta.db_table}")
        return cursor.fetchone()[0]


def make_clinic() -> tuple[Clinic, dict[str, list[int]]]:
    # Named SLUG only once the build is complete: an interrupted build is rebuilt.
    clinic = Clinic.objects.create(name="Bench operations clinic", slug=f"{SLUG}-building")
    queues = ensure_default_queues(clinic=clinic)
    Queue.objects.create(clinic=clinic, role=Role.MA, name="Pharmacy refills")
    Queue.objects.create(clinic=clinic, role=Role.NURSE, name="Nurse navigators")
    staff: dict[str, list[int]] = {}
    for role, count in STAFF.items():
        staff[role] = []
        for n in range(count):
            user = User.objects.create_user(f"bench-{role}-{n}")  # force_login, no password
            Membership.objects.create(user=user, clinic=clinic, role=role)
            staff[role].append(user.pk)
    admin = User.objects.create_user(ADMIN, is_staff=True)
    Membership.objects.create(user=admin, clinic=clinic, role=Role.ADMIN)
    admin.groups.add(Group.objects.get(name=CLINIC_ADMINISTRATORS_GROUP))
    assert all(queues[role] for role in STAFF)
    return clinic, staff


def plan(*, clinic: Clinic, staff: dict[str, list[int]], items: int, started: float) -> None:
    """One row per work item with every random draw, in a temporary table the inserts
    read: the draws of one item stay consistent across the tables it fills."""
    queues = {(q.role, q.is_role_default): q.pk for q in Queue.objects.filter(clinic=clinic)}
    # Box-Muller: a standard normal from two uniforms (PostgreSQL 15 has no random_normal).
    normal = "sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())"
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.2026)")
        cursor.execute("DROP TABLE IF EXISTS bench_plan")
        cursor.execute(
            f"""
            CREATE TEMP TABLE bench_plan AS
            WITH draw AS (
                SELECT n,
                       random() AS r_acuity, random() AS r_role, random() AS r_pool,
                       random() AS r_moved, random() AS r_corrected, random() AS r_day,
                       random() AS r_staff1, random() AS r_staff2,
                       {normal} AS z_read, {normal} AS z_respond, {normal} AS z_close,
                       1 + (random() * %(patients)s)::int AS patient_n
                FROM generate_series(1, %(items)s) AS n
            ), acuity AS (
                SELECT *,
                       CASE WHEN r_acuity < 0.05 THEN 'emergent'
                            WHEN r_acuity < 0.25 THEN 'urgent'
                            ELSE 'routine' END AS acuity
                FROM draw
            ), role AS (
                SELECT *,
                       CASE acuity
                         WHEN 'emergent' THEN
                           CASE WHEN r_role < 0.55 THEN 'nurse' ELSE 'physician' END
                         WHEN 'urgent' THEN
                           CASE WHEN r_role < 0.15 THEN 'ma' WHEN r_role < 0.65 THEN 'nurse'
                                ELSE 'physician' END
                         ELSE
                           CASE WHEN r_role < 0.30 THEN 'clerical' WHEN r_role < 0.55 THEN 'ma'
                                WHEN r_role < 0.75 THEN 'nurse' ELSE 'physician' END
                       END AS role,
                       -- Later in the year the clinic answers faster (0 = a year ago).
                       r_day * 365 AS age_days
                FROM acuity
            )
            SELECT n, acuity, role, patient_n, r_pool, r_corrected,
                   r_moved < 0.06 AS moved,
                   CASE acuity WHEN 'emergent' THEN 0 WHEN 'urgent' THEN 1 ELSE 2 END
                       AS acuity_rank,
                   r_staff1, r_staff2,
                   -- Log-normal minutes, medians by acuity (emergent / urgent / routine),
                   -- times a factor from 1.6 a year ago to 0.8 now.
                   (0.8 + 0.8 * age_days / 365) * exp(
                       ln(CASE acuity WHEN 'emergent' THEN 3 WHEN 'urgent' THEN 45
                                      ELSE 300 END) + 0.9 * z_read) AS read_min,
                   (0.8 + 0.8 * age_days / 365) * exp(
                       ln(CASE acuity WHEN 'emergent' THEN 5 WHEN 'urgent' THEN 120
                                      ELSE 900 END) + 1.0 * z_respond) AS respond_min,
                   exp(ln(CASE acuity WHEN 'emergent' THEN 120 WHEN 'urgent' THEN 360
                                      ELSE 1440 END) + 0.8 * z_close) AS close_min,
                   CASE acuity WHEN 'emergent' THEN 15 WHEN 'urgent' THEN 360
                        WHEN 'routine' THEN 6480 END AS due_min,
                   %(now)s::timestamptz - make_interval(secs => age_days * 86400)
                       AS received_at
                FROM role
            """,
            {
                "items": items,
                "patients": max(items // PATIENTS_PER_ITEM, 1) - 1,
                "now": timezone.now(),
            },
        )
        # Every item is closed by now: one received last night whose close would be
        # tomorrow is moved back so that its close is before now.
        cursor.execute(
            """
            ALTER TABLE bench_plan ADD COLUMN queue_id bigint, ADD COLUMN from_queue_id bigint,
                ADD COLUMN reader bigint, ADD COLUMN responder bigint, ADD COLUMN closer bigint;
            UPDATE bench_plan SET received_at = least(
                received_at,
                %(now)s::timestamptz - make_interval(
                    secs => (read_min + respond_min + close_min + 1) * 60));
            """,
            {"now": timezone.now()},
        )
        for role, ids in staff.items():
            default, pool = queues[(role, True)], queues.get((role, False))
            cursor.execute(
                """
                UPDATE bench_plan SET
                    queue_id = CASE WHEN %(pool)s::bigint IS NOT NULL AND r_pool < 0.25
                                    THEN %(pool)s ELSE %(default)s END,
                    reader = (%(ids)s::bigint[])[1 + floor(r_staff1 * %(n)s)::int],
                    responder = (%(ids)s::bigint[])[1 + floor(r_staff2 * %(n)s)::int],
                    closer = (%(ids)s::bigint[])[1 + floor(r_staff2 * %(n)s)::int]
                WHERE role = %(role)s
                """,
                {"pool": pool, "default": default, "ids": ids, "n": len(ids), "role": role},
            )
        # Moved between roles: first routed one role below (or above, for clerical).
        cursor.execute(
            """
            UPDATE bench_plan p SET from_queue_id = q.id
            FROM routing_queue q
            WHERE p.moved AND q.clinic_id = %s AND q.is_role_default
              AND q.role = CASE p.role WHEN 'clerical' THEN 'ma' WHEN 'ma' THEN 'clerical'
                                WHEN 'nurse' THEN 'ma' ELSE 'nurse' END
            """,
            [clinic.pk],
        )
        cursor.execute("ALTER TABLE bench_plan ADD PRIMARY KEY (n)")
        cursor.execute("ANALYZE bench_plan")
    log(f"planned {items:,} work items", started)


def build(items: int, started: float) -> None:
    clinic, staff = make_clinic()
    plan(clinic=clinic, staff=staff, items=items, started=started)
    patients = max(items // PATIENTS_PER_ITEM, 1)
    patient0 = next_id(Patient)
    insert_select(
        Patient,
        {
            "id": f"{patient0} + n - 1",
            "clinic_id": str(clinic.pk),
            "mrn": "'BO' || lpad(n::text, 8, '0')",
            "name": "'Patient ' || n",
            # Ages 1 to 95: 10% under 18, 65% 18-64, 25% 65 or older.
            "birth_date": "current_date - (365.25 * CASE WHEN mod(n, 20) < 2 THEN "
            "1 + mod(n * 7, 17) WHEN mod(n, 20) < 15 THEN 18 + mod(n * 13, 47) "
            "ELSE 65 + mod(n * 11, 31) END + mod(n, 365))::int",
            "preferred_language": "(ARRAY['en','en','en','en','en','en','en','en','en','en',"
            "'en','es','es','es','es','zh','vi','tl','ko','ru'])[1 + mod(n, 20)]",
            "created_at": "now()",
            "updated_at": "now()",
        },
        "generate_series(1, %s) AS n",
        [patients],
    )
    reset_sequence(Patient)
    log(f"{patients:,} patients", started)

    conversation0, message0 = next_id(Conversation), next_id(Message)
    item0 = next_id(WorkItem)
    tables = [
        (
            Conversation,
            {
                "id": f"{conversation0} + n - 1",
                "clinic_id": str(clinic.pk),
                "patient_id": f"{patient0} + patient_n - 1",
                "external_id": "'bench-c-' || n",
                "subject": "'Question ' || n",
                "created_at": "received_at",
                "updated_at": "received_at",
            },
        ),
        (
            Message,
            {
                "id": f"{message0} + n - 1",
                "clinic_id": str(clinic.pk),
                "conversation_id": f"{conversation0} + n - 1",
                "external_id": "'bench-m-' || n",
                "subject": "'Question ' || n",
                "body": "'Benchmark message.'",
                "sent_at": "received_at - interval '1 minute'",
                "status": "'routed'",
                "status_changed_at": "received_at",
                "created_at": "received_at",
                "updated_at": "received_at",
            },
        ),
        (
            Classification,
            {
                "message_id": f"{message0} + n - 1",
                "acuity": "acuity",
                "service_level": "role",
                "routing_service_level": "role",
                "evisit_candidate": "role = 'physician' AND r_pool < 0.5",
                "acuity_confidence": "0.6 + r_pool * 0.4",
                "service_level_confidence": "0.6 + r_staff1 * 0.4",
                "evisit_confidence": "0.5 + r_staff2 * 0.5",
                "created_at": "received_at",
            },
        ),
        (
            WorkItem,
            {
                "id": f"{item0} + n - 1",
                "clinic_id": str(clinic.pk),
                "conversation_id": f"{conversation0} + n - 1",
                "message_id": f"{message0} + n - 1",
                "queue_id": "queue_id",
                "status": "'closed'",
                "acuity": "acuity",
                "acuity_rank": "acuity_rank",
                "service_level": "role",
                "due_at": "received_at + make_interval(mins => due_min)",
                "claimed_by_id": "responder",
                "claimed_at": "received_at + make_interval(secs => read_min * 60)",
                "first_read_at": "received_at + make_interval(secs => read_min * 60)",
                "first_read_by_id": "reader",
                "first_response_at": "received_at + make_interval(secs => "
                "(read_min + respond_min) * 60)",
                "first_response_by_id": "responder",
                "first_response_role": "role",
                "closed_at": "received_at + make_interval(secs => "
                "(read_min + respond_min + close_min) * 60)",
                "closed_by_id": "closer",
                "breached_at": "CASE WHEN read_min + respond_min > due_min "
                "THEN received_at + make_interval(mins => due_min) END",
                "routing_reason": "'benchmark'",
                "created_at": "received_at",
                "updated_at": "received_at + make_interval(secs => "
                "(read_min + respond_min + close_min) * 60)",
            },
        ),
    ]
    for model, columns in tables:
        for low in range(1, items + 1, CHUNK):
            high = min(low + CHUNK - 1, items)
            with transaction.atomic():
                insert_select(
                    model,
                    columns,
                    "bench_plan WHERE n BETWEEN %s AND %s",
                    [low, high],
                )
            log(f"{model.__name__}: {high:,} / {items:,}", started)
        reset_sequence(model)

    # The item's history as the services write it: routed (and reassigned when it moved
    # between roles), responded, closed.
    events = [
        ("routed", "received_at", "NULL", "coalesce(from_queue_id, queue_id)", "TRUE"),
        (
            "reassigned",
            "received_at + make_interval(secs => read_min * 30)",
            "responder",
            "queue_id",
            "moved",
        ),
        (
            "responded",
            "received_at + make_interval(secs => (read_min + respond_min) * 60)",
            "responder",
            "NULL",
            "TRUE",
        ),
        (
            "closed",
            "received_at + make_interval(secs => (read_min + respond_min + close_min) * 60)",
            "closer",
            "NULL",
            "TRUE",
        ),
    ]
    for kind, at, actor, to_queue, where in events:
        for low in range(1, items + 1, CHUNK):
            high = min(low + CHUNK - 1, items)
            with transaction.atomic():
                insert_select(
                    WorkEvent,
                    {
                        "work_item_id": f"{item0} + n - 1",
                        "kind": f"'{kind}'",
                        "message_id": f"{message0} + n - 1" if kind == "routed" else "NULL",
                        "actor_id": actor,
                        "from_queue_id": "from_queue_id" if kind == "reassigned" else "NULL",
                        "to_queue_id": to_queue,
                        "reason": "'benchmark'",
                        "created_at": at,
                    },
                    f"bench_plan WHERE n BETWEEN %s AND %s AND {where}",
                    [low, high],
                )
        log(f"WorkEvent {kind}", started)
    reset_sequence(WorkEvent)

    insert_select(
        SlaBreach,
        {
            "work_item_id": f"{item0} + n - 1",
            "due_at": "received_at + make_interval(mins => due_min)",
            "window": "1",
            "acuity": "acuity",
            "action": "'benchmark'",
            "detected_at": "received_at + make_interval(mins => due_min + 1)",
        },
        "bench_plan WHERE read_min + respond_min > due_min",
    )
    reset_sequence(SlaBreach)
    log("SLA breaches", started)
    # Staff corrected about 7% of the labels: the role of the moved, the acuity of 1%.
    insert_select(
        LabelCorrection,
        {
            "message_id": f"{message0} + n - 1",
            "label": "CASE WHEN moved THEN 'service_level' ELSE 'acuity' END",
            "from_value": "CASE WHEN moved THEN 'nurse' ELSE 'routine' END",
            "to_value": "CASE WHEN moved THEN role ELSE 'urgent' END",
            "corrected_by_id": "responder",
            "reason": "'benchmark'",
            "created_at": "received_at + make_interval(secs => read_min * 60)",
        },
        "bench_plan WHERE moved OR r_corrected < 0.01",
    )
    reset_sequence(LabelCorrection)
    log("label corrections", started)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_plan")
        cursor.execute("VACUUM ANALYZE")  # what autovacuum does on a live database
    log("vacuum analyze", started)
    Clinic.objects.filter(pk=clinic.pk).update(slug=SLUG)


def time_page(url: str, requests: int, warmups: int) -> tuple[list[float], int]:
    client = Client(SERVER_NAME="localhost")
    client.force_login(User.objects.get(username=ADMIN))
    for _ in range(warmups):  # warm caches and connections
        response = client.get(url)
        if response.status_code != 200:
            sys.exit(f"GET {url} answered {response.status_code}: nothing to time.")
    reset_queries()  # with DEBUG on, the full query log would hide new queries
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    timings = []
    for _ in range(requests):
        began = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200
    return sorted(timings), len(queries)


def percentile(sorted_values: list[float], share: float) -> float:
    # Nearest rank: the smallest value with at least `share` of the values at or below it.
    return sorted_values[max(math.ceil(len(sorted_values) * share) - 1, 0)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--warmups", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument(
        "--url", action="append", help="pages to time (default /operations/); repeatable"
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("This benchmark is for PostgreSQL: set DATABASE_URL.")
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    clinic = Clinic.objects.filter(slug=SLUG).first()
    if Clinic.objects.filter(slug=f"{SLUG}-building").exists() or (
        clinic and (args.rebuild or WorkItem.objects.filter(clinic=clinic).count() != args.items)
    ):
        log("dropping the old benchmark database...", started)
        connection.close()
        create_database(drop=True)
        call_command("migrate", verbosity=0)
        clinic = None
    if clinic is None:
        log(f"building {args.items:,} closed work items over a year...", started)
        build(args.items, started)
    clinic = Clinic.objects.get(slug=SLUG)
    counts = {
        model.__name__: model.objects.count()
        for model in (
            Patient,
            Conversation,
            Message,
            Classification,
            WorkItem,
            WorkEvent,
            SlaBreach,
            LabelCorrection,
        )
    }
    print("rows: " + ", ".join(f"{name} {count:,}" for name, count in counts.items()))
    by_acuity = dict(
        WorkItem.objects.filter(clinic=clinic)
        .values_list("acuity")
        .annotate(n=django.db.models.Count("id"))
    )
    print(
        "closed work items by acuity: "
        + ", ".join(
            f"{acuity} {n:,} ({n / sum(by_acuity.values()):.1%})"
            for acuity, n in sorted(by_acuity.items())
        )
    )
    # The live figures, as a view without stored ones computes them (and stores them for a
    # large clinic), then as beat refreshes them; the timed views read what beat stored.
    OperationsSnapshot.objects.filter(clinic=clinic).delete()
    client = Client(SERVER_NAME="localhost")
    client.force_login(User.objects.get(username=ADMIN))
    began = time.perf_counter()
    assert client.get("/operations/").status_code == 200
    print(f"/operations/ without stored figures (live): {time.perf_counter() - began:.1f} s")
    began = time.perf_counter()
    refreshed = refresh_snapshots(now=timezone.now())
    print(
        f"beat's refresh_operations_snapshots: {time.perf_counter() - began:.1f} s "
        f"for {refreshed} clinic(s)"
    )
    p95 = 0.0
    for url in args.url or ["/operations/"]:
        timings, queries = time_page(url, args.requests, args.warmups)
        p95 = percentile(timings, 0.95)
        print(
            f"{url} ({args.requests} requests after {args.warmups} warm-ups): "
            f"p50 {statistics.median(timings):.0f} ms, p95 {percentile(timings, 0.95):.0f} ms, "
            f"max {timings[-1]:.0f} ms; {queries} SQL queries per page"
        )
    print(f"operations_page_p95: {p95:.0f} ms")


if __name__ == "__main__":
    main()
