"""Routing throughput end to end, beside its database-write floor, in the same run.

End to end: N messages (corpus texts, one patient and conversation each) are stored
through the app's intake service (inbox.services.receive_messages_batch in chunks, or
receive_message one by one with --ingest one), which enqueues each message's
classify_and_route after commit, and TWO real Celery worker processes (-Q triage,
concurrency 1, as deploy/supervisord.conf runs the triage worker) classify and route
them on PostgreSQL through Redis. The clock runs from the first enqueue to the last
message's routed time (Message.status_changed_at), or to the moment the triage queue is
empty and every task taken acknowledged, whichever is later.

Floor: the bare SQL writes the same messages need, without the app, over two concurrent
psycopg connections (two workers): per message an ingest transaction (insert patient,
conversation and message) and a routing one (insert the classification, mark the message
classified, insert the work item and its event, mark the message routed): 8 statements.

Several paired runs in alternating order; the medians and their ratio (end to end /
floor; issue 23's target is at least 1/3). The last line:

    route_end_to_end: <msg/s> msg/s (floor <msg/s> msg/s, ratio <r>)

    .venv/bin/python bench/route.py [--messages 2000] [--runs 3] [--ingest batch|one]

Uses DATABASE_URL, else postgres://postgres@127.0.0.1:5432/portal_triage_bench_route (made
and migrated if missing), and CELERY_BROKER_URL, else redis://127.0.0.1:6379/9, which it
flushes. Its worker processes are stopped on exit.
"""

import argparse
import json
import os
import statistics
import threading
import time

from bench_database import use_bench_database
from bench_processes import use_bench_broker

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "bench-route-not-a-secret")
os.environ.setdefault("ALLOWED_HOSTS", "localhost,127.0.0.1")
use_bench_database("portal_triage_bench_route")
use_bench_broker(9)

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from bench_processes import (  # noqa: E402
    Children,
    bench_clinic,
    broker_idle,
    corpus_texts,
    empty_message_tables,
    ensure_active_model,
    flush_broker,
)
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Max  # noqa: E402
from django.test import Client  # noqa: E402

from accounts.services import issue_api_token  # noqa: E402
from inbox.models import Message  # noqa: E402
from inbox.services import (  # noqa: E402
    IncomingMessage,
    PatientDetails,
    receive_message,
    receive_messages_batch,
)
from inbox.signals import message_received  # noqa: E402
from routing.models import Queue  # noqa: E402

SLUG = "bench-route"
CHUNK = 250
ENDPOINT_BATCH = 500
WORKERS = 2


def incoming(n: int, texts: list[tuple[str, str]], run: int) -> IncomingMessage:
    subject, body = texts[(n * 7) % len(texts)]
    return IncomingMessage(
        external_id=f"r{run}-m{n}",
        patient=PatientDetails(mrn=f"r{run}-p{n}", name=f"Patient {n}"),
        subject=subject,
        body=body,
    )


class FirstEnqueue:
    """The wall-clock time of the first message_received of a run (sent after the
    pipeline's own receiver, so just after the first enqueue)."""

    def __init__(self) -> None:
        self.at: float | None = None
        message_received.connect(self.seen, weak=False, dispatch_uid="bench.route.first")

    def seen(self, **kwargs) -> None:
        if self.at is None:
            self.at = time.time()


def post_through_the_bulk_endpoint(batch: list[IncomingMessage], token: str) -> None:
    client = Client(SERVER_NAME="localhost")
    for start in range(0, len(batch), ENDPOINT_BATCH):
        payload = {
            "messages": [
                {
                    "external_id": one.external_id,
                    "clinic": SLUG,
                    "patient": {"mrn": one.patient.mrn, "name": one.patient.name},
                    "subject": one.subject,
                    "body": one.body,
                }
                for one in batch[start : start + ENDPOINT_BATCH]
            ]
        }
        response = client.post(
            "/api/v1/messages:batch",
            json.dumps(payload),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
            secure=True,  # as behind the TLS proxy (production settings redirect plain HTTP)
        )
        if response.status_code != 200 or response.json()["rejected"]:
            raise RuntimeError(
                f"bulk intake refused: {response.status_code} {response.content[:300]!r}"
            )


def end_to_end(
    *, clinic, integration, messages: int, run: int, ingest: str, token: str = ""
) -> float:
    empty_message_tables()
    flush_broker()
    texts = corpus_texts()
    first = FirstEnqueue()
    batch = [incoming(n, texts, run) for n in range(messages)]
    if ingest == "endpoint":
        # The clock starts at the first request, before anything is stored or enqueued.
        first.at = time.time()
        post_through_the_bulk_endpoint(batch, token)
    elif ingest == "batch":
        for start in range(0, messages, CHUNK):
            receive_messages_batch(
                clinic=clinic, incoming=batch[start : start + CHUNK], source=integration
            )
    else:
        for one in batch:
            receive_message(clinic=clinic, incoming=one, source=integration)
    ingested = time.time()
    deadline = time.monotonic() + 120 + messages / 5
    routed = 0
    while time.monotonic() < deadline:
        routed = Message.objects.filter(status=Message.Status.ROUTED).count()
        if routed >= messages:
            break
        time.sleep(0.2)
    message_received.disconnect(dispatch_uid="bench.route.first")
    if routed < messages:
        raise RuntimeError(f"only {routed} of {messages} messages routed")
    last = Message.objects.aggregate(last=Max("status_changed_at"))["last"].timestamp()
    # A worker routes the messages waiting with its own, so the last message can be
    # routed while tasks of messages routed already still wait: those are work too (a
    # broker round trip and a few statements each), and the next message would wait
    # behind them. The clock stops when both are done.
    while not broker_idle():
        if time.monotonic() > deadline:
            raise RuntimeError("the workers did not drain the triage queue")
        time.sleep(0.05)
    drained = time.time()
    seconds = max(last, drained) - first.at
    print(
        f"  end to end: {messages} messages in {seconds:.2f}s = {messages / seconds:.1f} msg/s"
        f" (ingest done after {ingested - first.at:.2f}s, last routed after "
        f"{last - first.at:.2f}s, queue drained after {drained - first.at:.2f}s)",
        flush=True,
    )
    return messages / seconds


def floor_writer(dsn: str, *, clinic_id: int, queue_id: int, numbers: range, run: int) -> None:
    with psycopg.connect(dsn) as conn:
        for n in numbers:
            with conn.transaction():
                patient_id = conn.execute(
                    "INSERT INTO inbox_patient (created_at, updated_at, mrn, name,"
                    " preferred_language, on_chemotherapy, clinic_id, phone)"
                    " VALUES (now(), now(), %s, %s, 'en', false, %s, '') RETURNING id",
                    [f"f{run}-p{n}", f"Patient {n}", clinic_id],
                ).fetchone()[0]
                conversation_id = conn.execute(
                    "INSERT INTO inbox_conversation (created_at, updated_at, external_id,"
                    " subject, clinic_id, patient_id)"
                    " VALUES (now(), now(), %s, 'Question', %s, %s) RETURNING id",
                    [f"f{run}-c{n}", clinic_id, patient_id],
                ).fetchone()[0]
                message_id = conn.execute(
                    "INSERT INTO inbox_message (created_at, updated_at, external_id, subject,"
                    " body, category, sent_at, status, status_changed_at, clinic_id,"
                    " conversation_id) VALUES (now(), now(), %s, 'Question', %s, '', now(),"
                    " 'received', now(), %s, %s) RETURNING id",
                    [f"f{run}-m{n}", "Can I move my appointment?", clinic_id, conversation_id],
                ).fetchone()[0]
            with conn.transaction():
                conn.execute(
                    "INSERT INTO triage_classification (acuity, service_level,"
                    " routing_service_level, evisit_candidate, acuity_confidence,"
                    " service_level_confidence, evisit_confidence, red_flags, unclassified,"
                    " needs_review, created_at, message_id) VALUES ('routine', 'clerical',"
                    " 'clerical', false, 0.9, 0.9, 0.9, '[]', false, false, now(), %s)",
                    [message_id],
                )
                conn.execute(
                    "UPDATE inbox_message SET status = 'classified', status_changed_at = now(),"
                    " updated_at = now() WHERE id = %s",
                    [message_id],
                )
                item_id = conn.execute(
                    "INSERT INTO routing_workitem (created_at, updated_at, status, acuity,"
                    " acuity_rank, service_level, due_at, routing_reason, routing_decision,"
                    " escalation_level, clinic_id, conversation_id, message_id, queue_id,"
                    " first_response_role, pend_event, pend_reason, pend_pauses_sla)"
                    " VALUES (now(), now(), 'open', 'routine', 2,"
                    " 'clerical', now() + interval '1 day', 'default queue', '{}', 0, %s, %s,"
                    " %s, %s, '', '', '', false) RETURNING id",
                    [clinic_id, conversation_id, message_id, queue_id],
                ).fetchone()[0]
                conn.execute(
                    "INSERT INTO routing_workevent (kind, reason, created_at, message_id,"
                    " to_queue_id, work_item_id, call_outcome)"
                    " VALUES ('routed', '', now(), %s, %s, %s, '')",
                    [message_id, queue_id, item_id],
                )
                conn.execute(
                    "UPDATE inbox_message SET status = 'routed', status_changed_at = now(),"
                    " updated_at = now() WHERE id = %s",
                    [message_id],
                )


def floor(*, clinic, messages: int, run: int) -> float:
    empty_message_tables()
    settings_dict = connection.settings_dict
    dsn = psycopg.conninfo.make_conninfo(
        host=settings_dict["HOST"] or "127.0.0.1",
        port=settings_dict["PORT"] or 5432,
        user=settings_dict["USER"] or "postgres",
        password=settings_dict["PASSWORD"] or None,
        dbname=settings_dict["NAME"],
    )
    queue_id = Queue.objects.filter(clinic=clinic).order_by("pk").values_list("pk", flat=True)[0]
    errors: list[BaseException] = []

    def write(numbers: range) -> None:
        try:
            floor_writer(dsn, clinic_id=clinic.pk, queue_id=queue_id, numbers=numbers, run=run)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=write, args=(range(i, messages, WORKERS),)) for i in range(WORKERS)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if errors:
        raise errors[0]
    print(
        f"  floor: {messages} messages in {seconds:.2f}s = {messages / seconds:.1f} msg/s",
        flush=True,
    )
    return messages / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3, help="paired runs, alternating order")
    parser.add_argument(
        "--ingest",
        choices=["batch", "one", "endpoint"],
        default="batch",
        help="batch: receive_messages_batch, one task per message; one: receive_message; "
        "endpoint: POST /api/v1/messages:batch (500 per request), batched routing tasks",
    )
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    ensure_active_model()
    clinic, integration = bench_clinic(SLUG)
    _, token = issue_api_token(user=integration.account, created_by=None, scopes=["messages:write"])
    children = Children()
    try:
        for n in range(WORKERS):
            children.worker(f"bench-route-{n + 1}")
        print(
            f"{args.messages} messages per run, {WORKERS} worker processes, "
            f"{args.runs} paired runs; worker logs in {children.log_dir}",
            flush=True,
        )
        pairs = []
        for run in range(args.runs):
            print(f"run {run + 1}:", flush=True)
            e2e_first = run % 2 == 0
            results = {}
            for which in ("e2e", "floor") if e2e_first else ("floor", "e2e"):
                if which == "e2e":
                    results[which] = end_to_end(
                        clinic=clinic,
                        integration=integration,
                        messages=args.messages,
                        run=run,
                        ingest=args.ingest,
                        token=token,
                    )
                else:
                    results[which] = floor(clinic=clinic, messages=args.messages, run=run)
            pairs.append((results["e2e"], results["floor"]))
    finally:
        children.stop_all()
        empty_message_tables()
        flush_broker()

    e2e = statistics.median(p[0] for p in pairs)
    floor_rate = statistics.median(p[1] for p in pairs)
    paired_ratio = statistics.median(p[0] / p[1] for p in pairs)
    print(
        f"median of {len(pairs)} paired runs: end to end {e2e:.1f} msg/s, floor "
        f"{floor_rate:.1f} msg/s; end to end is 1/{floor_rate / e2e:.1f} of the floor "
        f"(median of paired ratios {paired_ratio:.3f})"
    )
    ratio = e2e / floor_rate
    name = "route_bulk_endpoint" if args.ingest == "endpoint" else "route_end_to_end"
    print(f"{name}: {e2e:.1f} msg/s (floor {floor_rate:.1f} msg/s, ratio {ratio:.3f})")


if __name__ == "__main__":
    main()
