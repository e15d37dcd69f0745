"""Receipt-to-routed latency at an offered load through the real HTTP intake, then an
emergent message under a burst.

A real gunicorn (bound to 127.0.0.1 only; one worker per core, 4 threads each, as
deploy/supervisord.conf runs it; --web-workers and --web-threads to compare others) and
TWO Celery worker processes (-Q triage) on PostgreSQL and Redis. Messages (corpus texts,
a patient each) are POSTed to /api/v1/messages with an integration's bearer token on an
open-loop schedule (--rate per second for --seconds; a send is never held back by a slow
answer, up to --senders connections in flight). Latency is each message's created_at to
its status_changed_at once routed: p50, p95 and p99.

Then the burst: --burst routine messages (corpus texts without a red flag) are stored and
enqueued through the intake service in chunks, and one emergent message ("I have crushing
chest pain and can't breathe") is POSTed after them; the figure is the seconds from its
POST to its routing, with the number of routine messages still waiting when it was posted.

The last two lines:

    emergent_under_burst: <s> s
    latency_p99: <s> s

    .venv/bin/python bench/latency.py [--rate 100] [--seconds 60] [--burst 5000]

The token's rate limit (API_RATE_PER_TOKEN, 600/min by default) is raised for the server
it starts: the offered load comes from one integration. Uses DATABASE_URL, else
postgres://postgres@127.0.0.1:5432/portal_triage_bench_latency (made and migrated if
missing), and CELERY_BROKER_URL, else redis://127.0.0.1:6379/9, which it flushes. Its
server and workers are stopped on exit.
"""

import argparse
import http.client
import json
import os
import queue
import socket
import statistics
import sys
import threading
import time

from bench_database import use_bench_database
from bench_processes import use_bench_broker

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "bench-latency-not-a-secret")
use_bench_database("portal_triage_bench_latency")
use_bench_broker(9)

import django  # noqa: E402

django.setup()

from bench_processes import (  # noqa: E402
    Children,
    bench_clinic,
    corpus_texts,
    empty_message_tables,
    ensure_active_model,
    flush_broker,
)
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db.models import F  # noqa: E402

from accounts.services import issue_api_token  # noqa: E402
from inbox.models import Message  # noqa: E402
from inbox.services import IncomingMessage, PatientDetails, receive_messages_batch  # noqa: E402
from pipeline.priority import triage_priority  # noqa: E402

SLUG = "bench-latency"
WORKERS = 2
CHUNK = 250
EMERGENT_BODY = "I have crushing chest pain and can't breathe"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_web(children: Children, port: int, *, workers: int, threads: int) -> None:
    process = children.spawn(
        "web",
        [
            os.path.join(os.path.dirname(sys.executable), "gunicorn"), "config.wsgi",
            "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
            "--graceful-timeout", "5",
        ],
        API_RATE_PER_TOKEN="1000000/min",  # noqa: S106 (a rate, not a password)
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{children.log('web')}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health/live")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn not ready:\n{children.log('web')}")


class Poster:
    """POSTs to the intake from a few threads, each on its own keep-alive connection."""

    def __init__(self, port: int, token: str, clinic_slug: str) -> None:
        self.port, self.token, self.clinic_slug = port, token, clinic_slug
        self.local = threading.local()

    def post(self, *, external_id: str, mrn: str, subject: str, body: str) -> int:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        payload = json.dumps(
            {
                "external_id": external_id,
                "clinic": self.clinic_slug,
                "patient": {"mrn": mrn, "name": f"Patient {mrn}"},
                "subject": subject,
                "body": body,
            }
        )
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        try:
            conn.request("POST", "/api/v1/messages", payload, headers)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            self.local.conn = None
            conn.close()
            raise
        return response.status


def offered_load(poster: Poster, *, rate: float, seconds: float, senders: int) -> dict:
    """Open loop: message i is due at start + i / rate; a free sender sends it then (late
    only when every sender is busy, which the figures report)."""
    texts = corpus_texts()
    total = int(rate * seconds)
    due: queue.Queue = queue.Queue()
    statuses: list[int] = []
    lateness: list[float] = []
    answered_in: list[float] = []
    lock = threading.Lock()
    start = time.monotonic() + 0.5

    def send() -> None:
        while True:
            n = due.get()
            if n is None:
                return
            at = start + n / rate
            wait = at - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            sent = time.monotonic()
            late = max(0.0, sent - at)
            subject, body = texts[(n * 7) % len(texts)]
            try:
                status = poster.post(external_id=f"l-{n}", mrn=f"l-{n}", subject=subject, body=body)
            except (OSError, http.client.HTTPException):
                status = 0
            with lock:
                statuses.append(status)
                lateness.append(late)
                answered_in.append(time.monotonic() - sent)

    for n in range(total):
        due.put(n)
    for _ in range(senders):
        due.put(None)
    threads = [threading.Thread(target=send) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent_in = time.monotonic() - start
    created = sum(s == 201 for s in statuses)
    return {
        "offered": total,
        "created": created,
        "errors": len(statuses) - created,
        "achieved_rate": len(statuses) / sent_in,
        "late_p99": percentile(lateness, 0.99),
        "answer_p50": percentile(answered_in, 0.50),
        "answer_p99": percentile(answered_in, 0.99),
    }


def wait_routed(queryset, *, count: int, seconds: float, every: float = 0.25) -> int:
    deadline = time.monotonic() + seconds
    routed = 0
    while time.monotonic() < deadline:
        routed = queryset.filter(status=Message.Status.ROUTED).count()
        if routed >= count:
            break
        time.sleep(every)
    return routed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * q + 0.5) - 1)]


def burst(poster: Poster, *, clinic, integration, size: int) -> tuple[float, int]:
    routine_texts = [
        (subject, body)
        for subject, body in corpus_texts()
        if triage_priority(subject=subject, body=body, on_chemotherapy=False)
        == settings.TRIAGE_PRIORITY_ROUTINE
    ]
    for start in range(0, size, CHUNK):
        receive_messages_batch(
            clinic=clinic,
            incoming=[
                IncomingMessage(
                    external_id=f"b-{n}",
                    patient=PatientDetails(mrn=f"b-{n}", name=f"Patient {n}"),
                    subject=routine_texts[n % len(routine_texts)][0],
                    body=routine_texts[n % len(routine_texts)][1],
                )
                for n in range(start, min(size, start + CHUNK))
            ],
            source=integration,
        )
    waiting = (
        Message.objects.filter(external_id__startswith="b-")
        .exclude(status=Message.Status.ROUTED)
        .count()
    )
    posted = time.monotonic()
    status = poster.post(external_id="emergent-1", mrn="e-1", subject="Help", body=EMERGENT_BODY)
    if status != 201:
        raise RuntimeError(f"the emergent post answered {status}")
    emergent = Message.objects.filter(external_id="emergent-1")
    if wait_routed(emergent, count=1, seconds=600, every=0.05) < 1:
        raise RuntimeError("the emergent message was not routed within 600 s")
    return time.monotonic() - posted, waiting


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="messages per second offered")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--burst", type=int, default=5000, help="routine messages before the emergent one"
    )
    parser.add_argument("--senders", type=int, default=32, help="concurrent HTTP connections")
    parser.add_argument(
        "--web-workers", type=int, default=os.cpu_count() or 1, help="gunicorn worker processes"
    )
    parser.add_argument("--web-threads", type=int, default=4, help="gunicorn threads per worker")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    ensure_active_model()
    clinic, integration = bench_clinic(SLUG)
    _, token = issue_api_token(user=integration.account, name="bench-latency", created_by=None)
    empty_message_tables()
    flush_broker()
    children = Children()
    try:
        port = free_port()
        start_web(children, port, workers=args.web_workers, threads=args.web_threads)
        for n in range(WORKERS):
            children.worker(f"bench-latency-{n + 1}")
        poster = Poster(port, token, clinic.slug)
        print(
            f"offering {args.rate:g} msg/s for {args.seconds:g}s to gunicorn on 127.0.0.1:{port}"
            f" ({args.web_workers} workers x {args.web_threads} threads) with {WORKERS} worker"
            f" processes; logs in {children.log_dir}",
            flush=True,
        )
        load = offered_load(poster, rate=args.rate, seconds=args.seconds, senders=args.senders)
        print(
            f"  posted {load['created']} of {load['offered']} (errors {load['errors']}), "
            f"achieved {load['achieved_rate']:.1f} msg/s, p99 send lateness "
            f"{load['late_p99']:.2f}s; POST answered in p50 {load['answer_p50']:.3f}s, "
            f"p99 {load['answer_p99']:.3f}s",
            flush=True,
        )
        loaded = Message.objects.filter(external_id__startswith="l-")
        routed = wait_routed(loaded, count=load["created"], seconds=300 + args.seconds)
        latencies = [
            d.total_seconds()
            for d in loaded.filter(status=Message.Status.ROUTED).values_list(
                F("status_changed_at") - F("created_at"), flat=True
            )
        ]
        if routed < load["created"] or not latencies:
            raise RuntimeError(f"only {routed} of {load['created']} routed")
        p50, p95, p99 = (percentile(latencies, q) for q in (0.50, 0.95, 0.99))
        print(
            f"  receipt to routed over {len(latencies)} messages: p50 {p50:.3f}s, "
            f"p95 {p95:.3f}s, p99 {p99:.3f}s, max {max(latencies):.3f}s, "
            f"mean {statistics.mean(latencies):.3f}s",
            flush=True,
        )

        print(f"burst: {args.burst} routine messages, then one emergent POST", flush=True)
        emergent_seconds, waiting = burst(
            poster, clinic=clinic, integration=integration, size=args.burst
        )
        print(
            f"  {waiting} routine messages were waiting when the emergent one was posted;"
            f" it was routed {emergent_seconds:.2f}s later",
            flush=True,
        )
    finally:
        children.stop_all()
        empty_message_tables()
        flush_broker()
    print(f"emergent_under_burst: {emergent_seconds:.2f} s")
    print(f"latency_p99: {p99:.3f} s")


if __name__ == "__main__":
    main()
