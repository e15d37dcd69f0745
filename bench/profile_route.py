"""Where a routed message's time goes in the worker: cProfile of classify_and_route over N
messages (default 200, one patient and conversation each, corpus texts), in one process
on PostgreSQL, after a warm-up. Prints the time per message, the statements per message,
and the share of the time in database round trips, in the routing decision, in the
model and in the rest; then the top functions by cumulative time.

    .venv/bin/python bench/profile_route.py [--messages 200]

Runs the same on an older commit (a git worktree with this file copied in) to give the
profile before and after a change. Its own database: DATABASE_URL, else
postgres://postgres@127.0.0.1:5432/portal_triage_bench_profile (made and migrated). The
last line:

    route_worker_ms_per_message: <ms> ms
"""

import argparse
import cProfile
import io
import os
import pstats
import time

from bench_database import use_bench_database

os.environ.setdefault("SECRET_KEY", "bench-profile-not-a-secret")
os.environ.pop("CELERY_BROKER_URL", None)  # tasks run in this process (eager), no broker
use_bench_database("portal_triage_bench_profile")

import django  # noqa: E402

django.setup()

import joblib  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.models import Clinic, Integration  # noqa: E402
from accounts.services import create_integration  # noqa: E402
from inbox.models import Message  # noqa: E402
from inbox.services import IncomingMessage, PatientDetails, receive_message  # noqa: E402
from inbox.signals import message_received  # noqa: E402
from pipeline.tasks import classify_and_route  # noqa: E402

try:
    from pipeline.tasks import classify_and_route_many
except ImportError:  # an older commit, profiled for the "before" figures
    classify_and_route_many = None
from triage.ml.classifier import DEFAULT_VARIANT  # noqa: E402
from triage.ml.corpus import corpus_hash, load_corpus  # noqa: E402
from triage.model_registry import register_model_version  # noqa: E402
from triage.models import ModelVersion  # noqa: E402

SLUG = "bench-profile"
# Functions whose cumulative time is reported as a share (substring of the profile key).
PARTS = {
    "database round trips": ("psycopg/cursor.py", "execute"),
    "routing decision (decide)": ("routing/services.py", "decide"),
    "model (labels_for_batch)": ("triage/classification.py", "labels_for_batch"),
}


def setup() -> tuple[Clinic, Integration, list]:
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE routing_workevent, routing_workitem, triage_classification,"
            " inbox_outgoingmessage, inbox_message, inbox_conversation, inbox_patient CASCADE"
        )
    rows = load_corpus(settings.TRIAGE_CORPUS_DIR)
    if not ModelVersion.objects.filter(is_active=True).exists():
        data_hash = corpus_hash(rows)
        cached = (
            settings.BASE_DIR
            / "var"
            / "test-cache"
            / (f"triage-{DEFAULT_VARIANT}-{data_hash[:16]}.joblib")
        )
        artifact = cached.read_bytes()
        register_model_version(
            model=joblib.load(io.BytesIO(artifact)),
            artifact=artifact,
            name="bench-model",
            training_data_hash=data_hash,
        )
    clinic, _ = Clinic.objects.get_or_create(slug=SLUG, defaults={"name": "Bench profile"})
    integration = Integration.objects.filter(clinic=clinic).first() or create_integration(
        clinic=clinic, name="Bench portal"
    )
    return clinic, integration, rows


def store(clinic, integration, rows, n: int, prefix: str) -> list[int]:
    ids = []
    for i in range(n):
        row = rows[(i * 7) % len(rows)]
        message, _ = receive_message(
            clinic=clinic,
            incoming=IncomingMessage(
                external_id=f"{prefix}-{i}",
                patient=PatientDetails(mrn=f"{prefix}-p{i}", name=f"Patient {i}"),
                subject=row.subject,
                body=row.body,
            ),
            source=integration,
        )
        ids.append(message.pk)
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument(
        "--chunk",
        type=int,
        default=0,
        help="route through classify_and_route_many in chunks of this size (the bulk path)",
    )
    parser.add_argument(
        "--alone",
        action="store_true",
        help="each message stored and routed before the next is stored (a quiet clinic: "
        "no batch forms); by default all are stored first, and each task routes the "
        "messages waiting with its own",
    )
    args = parser.parse_args()
    clinic, integration, rows = setup()
    # Stored without the pipeline's enqueue: this process routes them itself, timed.
    message_received.receivers.clear()
    prefix = f"p{int(time.time())}"
    for message_id in store(clinic, integration, rows, 20, f"{prefix}-warm"):
        classify_and_route.run(message_id)
    profiler = cProfile.Profile()
    if args.alone:
        ids, seconds, statements = [], 0.0, 0
        for i in range(args.messages):
            (message_id,) = store(clinic, integration, rows[i:] + rows[:i], 1, f"{prefix}-{i}")
            ids.append(message_id)
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                profiler.enable()
                classify_and_route.run(message_id)
                profiler.disable()
                seconds += time.perf_counter() - started
            statements += len(queries.captured_queries)
    else:
        ids = store(clinic, integration, rows, args.messages, prefix)
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            profiler.enable()
            if args.chunk:
                for start in range(0, len(ids), args.chunk):
                    classify_and_route_many.run(ids[start : start + args.chunk])
            else:
                for message_id in ids:
                    classify_and_route.run(message_id)
            profiler.disable()
            seconds = time.perf_counter() - started
        statements = len(queries.captured_queries)
    routed = Message.objects.filter(pk__in=ids, status=Message.Status.ROUTED).count()
    if routed != len(ids):
        raise RuntimeError(f"only {routed} of {len(ids)} routed")

    stats = pstats.Stats(profiler)
    top_total = max(entry[3] for entry in stats.stats.values())
    print(f"{len(ids)} messages in {seconds:.2f}s: {seconds / len(ids) * 1000:.2f} ms each")
    print(f"statements per message: {statements / len(ids):.1f}")
    for label, (path, function) in PARTS.items():
        cumulative = sum(
            entry[3]
            for (filename, _, name), entry in stats.stats.items()
            if filename.endswith(path) and name == function
        )
        print(f"  {label}: {cumulative / top_total * 100:.0f}% of the time")
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(18)
        print(f"top functions by {order} time:")
        print(out.getvalue().split("\n", 6)[-1].rstrip())
    print(f"route_worker_ms_per_message: {seconds / len(ids) * 1000:.2f} ms")


if __name__ == "__main__":
    main()
