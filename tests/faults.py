"""Real faults for tests: a private Redis or PostgreSQL the test may stop and start (never
the machine's shared ones, which other test runs use), and pointing this process's
task publishing at a broker of the test's choosing."""

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from config.celery import app as celery_app

POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, *, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {seconds} s")


@contextlib.contextmanager
def broker_at(url: str):
    """Publish from this process to `url`, through the real producer pool (tasks not run
    in-process). The write URL, because the suite's CELERY_BROKER_URL environment variable
    wins over conf.broker_url; worker pings (celery_app.control) use it too. The app's
    pools are looked up again both ways (kombu keeps one per broker URL), so no connection
    to the suite's Redis is reused."""
    previous = celery_app.conf.broker_write_url, celery_app.conf.task_always_eager

    def rebuild_pool() -> None:
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    celery_app.conf.broker_write_url, celery_app.conf.task_always_eager = url, False
    rebuild_pool()
    try:
        yield
    finally:
        celery_app.conf.broker_write_url, celery_app.conf.task_always_eager = previous
        rebuild_pool()


class PrivateRedis:
    """A redis-server of the test's own on a free port, without persistence: stopping it
    loses whatever was queued, as a crashed or replaced Redis does."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        no_persistence = ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", *no_persistence],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, seconds=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)
        self.process = None


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (initdb in a temporary directory, trust
    authentication, a free port), so the test may stop it without touching anyone's.
    initdb and pg_ctl refuse to run as root: as root, they run as the postgres user, in a
    directory of its own (pytest's tmp_path is private to root)."""

    def __init__(self):
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="fault-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self._as_owner: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self._as_owner = ["runuser", "-u", "postgres", "--"]

    def url(self, database: str = "portal_triage") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        self._run(
            POSTGRES_BIN / "initdb",
            *("-D", self.data, "-U", "postgres", "--auth=trust", "--no-sync"),
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            POSTGRES_BIN / "pg_ctl", "-D", self.data, "start", "-w", "-o", options, "-l", self.log
        )

    def stop(self) -> None:
        # fast: active sessions are ended at once, as when the database server goes away.
        self._run(POSTGRES_BIN / "pg_ctl", "-D", self.data, "stop", "-w", "-m", "fast")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                self._run(POSTGRES_BIN / "pg_ctl", "-D", self.data, "stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, name: str) -> None:
        self._run(
            POSTGRES_BIN / "createdb",
            *("-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name),
        )

    def _run(self, *command) -> None:
        subprocess.run(
            [*self._as_owner, *map(str, command)],
            check=True,
            capture_output=True,
            cwd=self.root,
            env={**os.environ, "LC_ALL": "C.UTF-8"},
            timeout=60,
        )
