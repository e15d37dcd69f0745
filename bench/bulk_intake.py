"""Bulk intake speed: N batches of 500 messages through POST /api/v1/messages:batch.

In-process through the Django test client (middleware, bearer-token authentication,
throttling, the view's validation of every message, receive_messages_batch, and the
after-commit enqueue of the batch's routing tasks to a real Redis broker), no network and
no web server. Counts messages stored per second through the endpoint, not routed: the
routing tasks are only enqueued (no worker runs here) and removed from the broker after.
A second pass posts the same batches again (every message already present: a portal's
retry). Patients repeat across batches (2,000 MRNs), so later batches reconcile known
patients as well as create new ones; every message starts a thread of its own.

    .venv/bin/python bench/bulk_intake.py [--batches 20] [--size 500]

Uses DATABASE_URL, else postgres://postgres@127.0.0.1:5432/portal_triage_bench_bulk (made
and migrated if missing; the clinic's messages are emptied on every run), and the broker
BENCH_BROKER_URL, else redis://127.0.0.1:6379/11 (its triage queue is emptied after).
"""

import argparse
import json
import os
import random
import statistics
import time

from bench_database import use_bench_database

use_bench_database("portal_triage_bench_bulk")
os.environ["CELERY_BROKER_URL"] = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/11")

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from accounts.models import Clinic, Integration  # noqa: E402
from accounts.services import create_integration, issue_api_token  # noqa: E402

SLUG = "bench-bulk"
URL = "/api/v1/messages:batch"
PATIENTS = 2_000
BODIES = [
    "Could you refill my lisinopril, I have two pills left.",
    "My rash is spreading since Monday and it itches at night.",
    "Can I move my appointment next week to the afternoon?",
    "Is it normal to feel tired after the new dose?",
    "The pharmacy says the prior authorization is still missing.",
]


def setup() -> str:
    call_command("migrate", verbosity=0)
    with connection.cursor() as cur:
        # The bench database holds only this clinic's intake: start from empty tables.
        cur.execute(
            "TRUNCATE routing_workevent, routing_workitem, inbox_message, inbox_conversation,"
            " inbox_patient, inbox_patientchange, inbox_patientdataaccess CASCADE"
        )
    clinic, _ = Clinic.objects.get_or_create(slug=SLUG, defaults={"name": "Bench bulk clinic"})
    portal = Integration.objects.filter(clinic=clinic, name="Bench portal").first()
    portal = portal or create_integration(clinic=clinic, name="Bench portal")
    _, token = issue_api_token(user=portal.account, created_by=None, scopes=["messages:write"])
    return token


def batches(count: int, size: int, prefix: str = "bulk") -> list[bytes]:
    rng = random.Random(23)
    bodies = []
    for b in range(count):
        messages = []
        for n in range(size):
            mrn = rng.randrange(PATIENTS)
            messages.append(
                {
                    "external_id": f"{prefix}-{b}-{n}",
                    "clinic": SLUG,
                    "patient": {"mrn": f"B{mrn}", "name": f"Patient {mrn}"},
                    "subject": "Question",
                    "body": rng.choice(BODIES),
                    "category": "general",
                    "sent_at": "2026-11-20T09:30:00Z",
                }
            )
        bodies.append(json.dumps({"messages": messages}).encode())
    return bodies


def post_all(client: Client, token: str, bodies: list[bytes], outcome: str) -> list[float]:
    seconds = []
    for body in bodies:
        t0 = time.perf_counter()
        response = client.post(
            URL, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
        )
        seconds.append(time.perf_counter() - t0)
        assert response.status_code == 200, response.content[:300]
        answer = response.json()
        assert answer[outcome] == len(answer["results"]), {k: answer[k] for k in answer}
    return seconds


def empty_the_triage_queue() -> int:
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    keys = [k for k in broker.scan_iter("triage*") if broker.type(k) == b"list"]
    waiting = sum(broker.llen(k) for k in keys)
    if keys:
        broker.delete(*keys)
    return waiting


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--size", type=int, default=500)
    args = parser.parse_args()
    token = setup()
    bodies = batches(args.batches, args.size)
    client = Client(SERVER_NAME="localhost")
    # Warm, as a running server is: imports, the red-flag rules, the connection.
    post_all(client, token, batches(1, 10, prefix="warm"), "created")
    empty_the_triage_queue()

    new = post_all(client, token, bodies, "created")
    again = post_all(client, token, bodies, "already_present")
    tasks = empty_the_triage_queue()

    total = args.batches * args.size
    for name, seconds in (("new", new), ("posted again", again)):
        print(
            f"{name:<13} {args.batches} x {args.size}: {total / sum(seconds):7.0f} msg/s,"
            f" batch p50 {statistics.median(seconds) * 1000:6.0f} ms,"
            f" max {max(seconds) * 1000:6.0f} ms"
        )
    print(f"routing tasks enqueued (then removed): {tasks}")
    print(f"bulk_intake: {total / sum(new):.0f} msg/s")


if __name__ == "__main__":
    main()
