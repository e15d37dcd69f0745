"""Where one POST /api/v1/messages spends its time: cProfile of N posts in-process (Django
test client: middleware, bearer token, validation, storing, the after-commit enqueue to
a real Redis), on PostgreSQL. Prints ms per post, statements per post and the top
functions. Its own database (portal_triage_bench_intake) and Redis db 10.

    .venv/bin/python bench/profile_intake.py [--posts 200]

The last line:  intake_ms_per_post: <ms> ms
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import time

from bench_database import use_bench_database

os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/10")
use_bench_database("portal_triage_bench_intake")

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.models import Clinic, Integration  # noqa: E402
from accounts.services import create_integration, issue_api_token  # noqa: E402

SLUG = "bench-intake"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=200)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    clinic, _ = Clinic.objects.get_or_create(slug=SLUG, defaults={"name": "Bench intake"})
    portal = Integration.objects.filter(clinic=clinic).first() or create_integration(
        clinic=clinic, name="Bench portal"
    )
    _, token = issue_api_token(user=portal.account, created_by=None, scopes=["messages:write"])
    settings.API_RATE_PER_TOKEN = "1000000/min"  # noqa: S105 (a rate, not a password)
    client = Client(SERVER_NAME="localhost")
    run = int(time.time())

    def post(n: int) -> None:
        body = {
            "external_id": f"i{run}-{n}",
            "clinic": SLUG,
            "patient": {"mrn": f"i{run}-p{n}", "name": f"Patient {n}"},
            "subject": "Question",
            "body": "Can I move my appointment next week to the afternoon?",
        }
        response = client.post(
            "/api/v1/messages",
            json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        assert response.status_code in (200, 201), response.content[:300]

    for n in range(20):  # warm-up
        post(-1 - n)
    profiler = cProfile.Profile()
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        profiler.enable()
        for n in range(args.posts):
            post(n)
        profiler.disable()
        seconds = time.perf_counter() - started
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    print(f"{args.posts} posts in {seconds:.2f}s: {seconds / args.posts * 1000:.2f} ms each")
    print(f"statements per post: {len(queries.captured_queries) / args.posts:.1f}")
    out = io.StringIO()
    order = os.environ.get("PROFILE_SORT", "cumulative")  # or tottime
    pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(30)
    print(out.getvalue().split("\n", 6)[-1].rstrip())
    print(f"intake_ms_per_post: {seconds / args.posts * 1000:.2f} ms")


if __name__ == "__main__":
    main()
