"""deploy/supervisord.conf as production runs it: every process starts, the web answers,
and a worker killed with SIGKILL is started again by the supervisor."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from config.celery import app as celery_app
from tests.integration.conftest import _broker_url, _database_url, flush_broker

pytestmark = pytest.mark.integration

PROGRAMS = {"web", "worker-triage", "worker-default", "beat"}
DEADLINE_SECONDS = 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, what: str, log: Path):
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.3)
    pytest.fail(f"{what} not within {DEADLINE_SECONDS}s:\n{log.read_text()[-4000:]}")


@pytest.fixture
def supervisor(transactional_db, tmp_path: Path):
    flush_broker()
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "PORTAL_TRIAGE_RUN_DIR": str(tmp_path),
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": _broker_url(),
        "DEBUG": "1",
    }
    config = str(settings.BASE_DIR / "deploy" / "supervisord.conf")
    log = tmp_path / "out.log"
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "supervisord"), "-c", config],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def ctl(*args: str) -> str:
        return subprocess.run(
            [str(Path(sys.executable).parent / "supervisorctl"), "-c", config, *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        ).stdout

    yield ctl, port, log
    ctl("shutdown")
    try:
        process.wait(timeout=90)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    flush_broker()


def running(ctl) -> set[str]:
    return {line.split()[0] for line in ctl("status").splitlines() if " RUNNING " in f" {line} "}


def live(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def test_supervisor_starts_everything_and_restarts_a_killed_worker(supervisor):
    ctl, port, log = supervisor
    wait_until(lambda: running(ctl) == PROGRAMS, "all programs running", log)
    wait_until(lambda: live(port), "GET /health/live from gunicorn", log)
    node = f"triage@{os.uname().nodename}"
    wait_until(lambda: celery_app.control.ping([node], timeout=0.5), "triage worker", log)
    first_pid = int(ctl("pid", "worker-triage").strip())

    os.kill(first_pid, signal.SIGKILL)

    def restarted() -> int | None:
        pid = ctl("pid", "worker-triage").strip()
        return int(pid) if pid.isdigit() and int(pid) not in (0, first_pid) else None

    second_pid = wait_until(restarted, "worker-triage restarted", log)
    wait_until(lambda: celery_app.control.ping([node], timeout=0.5), "restarted worker", log)
    assert second_pid != first_pid
    # The worker can answer a ping inside its startsecs, while supervisord still shows
    # it STARTING; RUNNING follows once it has stayed up that long.
    wait_until(lambda: running(ctl) == PROGRAMS, "all programs running again", log)
    assert live(port)
