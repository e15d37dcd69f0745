"""A real Celery worker process on the test database, fed through Redis."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app as celery_app

WORKER_READY_SECONDS = 60


def _broker_url() -> str:
    url = settings.CELERY_BROKER_URL
    if not url:
        pytest.fail(
            "Integration tests need a real broker: set CELERY_BROKER_URL (make test does).",
            pytrace=False,
        )
    return url


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.fail(
            "Integration tests need PostgreSQL: set DATABASE_URL (make test does).", pytrace=False
        )
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path: Path):
    """Starts `celery worker` as a separate OS process against the test database and
    Redis, waits until it answers a ping, and stops it after the test."""
    broker = _broker_url()
    with celery_app.connection_for_write() as conn:
        conn.default_channel.client.flushdb()  # no stale tasks from an earlier run
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": broker,
        "DEBUG": "1",
    }
    log_path = tmp_path / "worker.log"
    log = log_path.open("w")
    hostname = f"itest-{os.getpid()}@%h"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            "triage,default",
            "--concurrency",
            "1",
            "--hostname",
            hostname,
            "--loglevel",
            "INFO",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=settings.BASE_DIR,
    )
    deadline = time.monotonic() + WORKER_READY_SECONDS
    node = hostname.replace("%h", os.uname().nodename)
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"worker exited early:\n{log_path.read_text()}", pytrace=False)
        if celery_app.control.ping(destination=[node], timeout=0.5):
            break
    else:
        process.kill()
        pytest.fail(
            f"worker not ready in {WORKER_READY_SECONDS}s:\n{log_path.read_text()}", pytrace=False
        )
    yield process
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()
