"""A real Celery worker process on the test database, fed through Redis."""

import contextlib
import os
import signal
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


class Workers:
    """Real `celery worker` OS processes on the test database and Redis db of the suite.
    Each runs in its own process group, so kill_hard() is a kill -9 of the whole worker
    (parent and pool children), as when a machine dies."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.nodes: dict[str, str] = {}

    def start(
        self,
        name: str,
        *,
        beat: bool = False,
        concurrency: int = 1,
        queues: str = "triage,default,slow",
        **env,
    ) -> None:
        environment = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "CELERY_BROKER_URL": _broker_url(),
            "DEBUG": "1",
            **{key: str(value) for key, value in env.items()},
        }
        hostname = f"{name}-{os.getpid()}@%h"
        log_path = self.tmp_path / f"{name}.log"
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queues,
            "--concurrency",
            str(concurrency),
            "--hostname",
            hostname,
            "--loglevel",
            "INFO",
        ]
        if beat:
            command += ["--beat", "--schedule", str(self.tmp_path / f"{name}-beat")]
        process = subprocess.Popen(
            command,
            env=environment,
            stdout=log_path.open("w"),
            stderr=subprocess.STDOUT,
            cwd=settings.BASE_DIR,
            start_new_session=True,
        )
        self.processes[name], self.logs[name] = process, log_path
        node = hostname.replace("%h", os.uname().nodename)
        self.nodes[name] = node
        deadline = time.monotonic() + WORKER_READY_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"worker {name} exited early:\n{log_path.read_text()}", pytrace=False)
            if celery_app.control.ping(destination=[node], timeout=0.5):
                return
        self.stop_all()
        pytest.fail(f"worker {name} not ready:\n{log_path.read_text()}", pytrace=False)

    def wait_idle(self, name: str, *, timeout: float = 30) -> None:
        """Until the worker runs no task, holds none it has fetched and none waits in
        the broker's queues (tasks scheduled for later aside). A message counts as
        routed before every task queued for it has run: another message's task may have
        routed it in its batch."""
        node = self.nodes[name]
        inspect = celery_app.control.inspect(destination=[node], timeout=1)
        quiet_polls, deadline = 0, time.monotonic() + timeout
        # Twice in a row: between one task ending and the next being fetched, both
        # lists can be empty for a moment.
        while quiet_polls < 2:
            if time.monotonic() > deadline:
                pytest.fail(f"worker {name} still busy after {timeout}s", pytrace=False)
            active, reserved = inspect.active() or {}, inspect.reserved() or {}
            busy = (
                active.get(node) is None
                or active[node]
                or reserved.get(node)
                or tasks_waiting_in_broker()
            )
            quiet_polls = 0 if busy else quiet_polls + 1
            time.sleep(0.2)

    def kill_hard(self, name: str) -> None:
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()


def flush_broker() -> None:
    _broker_url()
    with celery_app.connection_for_write() as conn:
        conn.default_channel.client.flushdb()  # no stale tasks from an earlier run


def tasks_waiting_in_broker() -> int:
    """Tasks in the Redis lists that are the queues (one list per queue and priority
    step); the broker's own bookkeeping keys are not lists."""
    with celery_app.connection_for_write() as conn:
        client = conn.default_channel.client
        return sum(client.llen(key) for key in client.scan_iter() if client.type(key) == b"list")


@pytest.fixture
def workers(transactional_db, tmp_path: Path):
    flush_broker()
    pool = Workers(tmp_path)
    yield pool
    pool.stop_all()
    flush_broker()


@pytest.fixture
def celery_worker_process(workers):
    """One real worker process (triage, default and slow queues)."""
    workers.start("itest")
    return workers.processes["itest"]
