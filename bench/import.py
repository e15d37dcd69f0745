"""Bulk import speed: 100,000 message rows (JSONL) through `import_messages --no-route` on
PostgreSQL, in a database of its own (dropped and made again on every run).

    .venv/bin/python bench/import.py [--rows 100000] [--batch-size 1000]

Times the command as a user runs it (a separate process: start-up, reading, the API's
validation of every row, storing), then a second run over the same file (everything
already present: the resume case), and prints rows/s for both. Target: >= 1,000 rows/s.
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DB = "portal_triage_bench_import"
SERVER = "postgresql://postgres@127.0.0.1:5432"
SLUG = "bench-import"


def make_database() -> dict:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{DB}"')
        c.execute(f'CREATE DATABASE "{DB}"')
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"{SERVER.replace('postgresql', 'postgres')}/{DB}",
    }
    env.pop("CELERY_BROKER_URL", None)  # --no-route enqueues nothing; no broker needed
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True)  # noqa: S603
    subprocess.run(  # noqa: S603
        [*manage, "shell", "-c",
         f"from accounts.models import Clinic; Clinic.objects.create(name='Bench', slug='{SLUG}')"],
        env=env, check=True,
    )  # fmt: skip
    return env


def write_rows(path: Path, rows: int) -> None:
    rng = random.Random(22)
    bodies = [
        "Could you refill my lisinopril, I have two pills left.",
        "My rash is spreading since Monday and it itches at night.",
        "Can I move my appointment next week to the afternoon?",
        "Is it normal to feel tired after the new dose?",
    ]
    patients = max(1, rows // 5)
    with path.open("w", encoding="utf-8") as out:
        for n in range(rows):
            p = rng.randrange(patients)
            out.write(
                json.dumps(
                    {
                        "external_id": f"hist-{n}",
                        "patient_mrn": f"B{p:07d}",
                        "patient_name": f"Patient {p}",
                        "birth_date": f"19{40 + p % 60:02d}-0{1 + p % 9}-1{p % 10}",
                        "preferred_language": "es" if p % 4 == 0 else "en",
                        "subject": "Question",
                        "body": f"{rng.choice(bodies)} ({n})",
                        "category": "general",
                        "sent_at": f"2023-{1 + n % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:15:00Z",
                        "conversation_id": f"t-{p}-{n % 3}",
                    }
                )
                + "\n"
            )


def timed_import(env: dict, path: Path, batch_size: int) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the import process, its summary line)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "manage.py"), "import_messages", str(path),
         "--clinic", SLUG, "--no-route", "--batch-size", str(batch_size)],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    summary = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
    if done.returncode != 0:
        sys.exit(f"import failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed, cpu, summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    env = make_database()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.jsonl"
        write_rows(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        print(f"{args.rows} rows, {size_mb:.1f} MB, batch size {args.batch_size}")
        # The load average says whether the machine was shared: wall time includes waiting
        # for CPU (and PostgreSQL's own time); the CPU time is the import process's alone.
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        first, cpu, summary = timed_import(env, path, args.batch_size)
        print(
            f"first run: {first:6.1f} s wall, {args.rows / first:6.0f} rows/s "
            f"(import process CPU {cpu:.1f} s) ({summary})"
        )
        again, cpu, summary = timed_import(env, path, args.batch_size)
        print(
            f"re-run:    {again:6.1f} s wall, {args.rows / again:6.0f} rows/s "
            f"(import process CPU {cpu:.1f} s) ({summary})"
        )
        print(f"load average after: {os.getloadavg()[0]:.1f}")
    target = 1000
    print(f"target >= {target} rows/s: {'met' if args.rows / first >= target else 'NOT met'}")
    print(f"import_rows: {args.rows / first:.0f} rows/s")


if __name__ == "__main__":
    main()
