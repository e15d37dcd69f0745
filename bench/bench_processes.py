"""What the end-to-end benchmarks (route.py, latency.py) share: real Celery worker processes
and a web server as child processes on the benchmark's database and Redis db, killed on
exit; the active triage model; a clinic with its integration; empty message tables.

Children run as production does (DEBUG off, with a throwaway SECRET_KEY) but bound to
127.0.0.1 only. Each child is its own process group, so stopping it stops its pool
children too; nothing else is ever signalled.
"""

import atexit
import contextlib
import io
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READY_SECONDS = 90


def use_bench_broker(redis_db: int) -> None:
    """The benchmark's own Redis db, set before Django reads its settings."""
    os.environ.setdefault("CELERY_BROKER_URL", f"redis://127.0.0.1:6379/{redis_db}")


class Children:
    """Worker and server processes started by this benchmark, and only those."""

    def __init__(self) -> None:
        self.log_dir = Path(tempfile.mkdtemp(prefix="portal-bench-"))
        self.processes: dict[str, subprocess.Popen] = {}
        self.secret_key = secrets.token_urlsafe(40)
        atexit.register(self.stop_all)
        # A SIGTERM to the benchmark still stops its children (atexit does not run then).
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    def environment(self, **extra: object) -> dict[str, str]:
        return {
            **os.environ,
            "DEBUG": "0",
            "SECRET_KEY": self.secret_key,
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CELERY_TRACE_LOG_LEVEL": "WARNING",
            **{key: str(value) for key, value in extra.items()},
        }

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def spawn(self, name: str, command: list[str], **env: object) -> subprocess.Popen:
        with (self.log_dir / f"{name}.log").open("w") as log:
            process = subprocess.Popen(  # noqa: S603 (our own fixed commands)
                command,
                env=self.environment(**env),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,
            )
        self.processes[name] = process
        return process

    def worker(self, name: str, *, queues: str = "triage", concurrency: int = 1) -> None:
        from config.celery import app as celery_app

        hostname = f"{name}-{os.getpid()}@{os.uname().nodename}"
        process = self.spawn(
            name,
            [
                sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queues,
                "--concurrency", str(concurrency), "--hostname", hostname,
                "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
            ],
        )  # fmt: skip
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"worker {name} exited:\n{self.log(name)}")
            if celery_app.control.ping(destination=[hostname], timeout=0.5):
                return
        raise RuntimeError(f"worker {name} not ready:\n{self.log(name)}")

    def stop_all(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()


def ensure_active_model() -> None:
    """An active triage model in the bench database: the suite's cached fit when there is
    one (var/test-cache), else fit here once (about a minute on two cores)."""
    import joblib
    from django.conf import settings

    from triage.ml.classifier import DEFAULT_VARIANT
    from triage.ml.corpus import corpus_hash, load_corpus
    from triage.ml.training import fit_model
    from triage.model_registry import register_model_version, serialize_model
    from triage.models import ModelVersion

    if ModelVersion.objects.filter(is_active=True).exists():
        return
    rows = load_corpus(settings.TRIAGE_CORPUS_DIR)
    data_hash = corpus_hash(rows)
    cached = ROOT / "var" / "test-cache" / f"triage-{DEFAULT_VARIANT}-{data_hash[:16]}.joblib"
    if cached.exists():
        artifact = cached.read_bytes()
        model = joblib.load(io.BytesIO(artifact))
    else:
        print("fitting the default triage model (once per bench database)...", flush=True)
        model = fit_model(rows, DEFAULT_VARIANT)
        artifact = serialize_model(model)
    register_model_version(
        model=model, artifact=artifact, name="bench-model", training_data_hash=data_hash
    )


def bench_clinic(slug: str):
    """The clinic, its default queues and its portal integration."""
    from accounts.models import Clinic, Integration
    from accounts.services import create_integration
    from routing.services import ensure_default_queues

    clinic, _ = Clinic.objects.get_or_create(slug=slug, defaults={"name": f"Bench {slug}"})
    ensure_default_queues(clinic=clinic)
    integration = Integration.objects.filter(clinic=clinic).first() or create_integration(
        clinic=clinic, name="Bench portal"
    )
    return clinic, integration


def empty_message_tables() -> None:
    """The bench database holds only benchmark data: every run starts from no messages."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "TRUNCATE routing_workevent, routing_workitem, triage_classification,"
            " inbox_message, inbox_conversation, inbox_patient CASCADE"
        )


def flush_broker() -> None:
    """Empty the benchmark's own Redis db (never the default one)."""
    from django.conf import settings

    from config.celery import app as celery_app

    if not settings.CELERY_BROKER_URL.rstrip("/").rsplit("/", 1)[-1].isdigit():
        raise RuntimeError("the benchmark needs its own Redis db number in CELERY_BROKER_URL")
    with celery_app.connection_for_write() as conn:
        conn.default_channel.client.flushdb()


def broker_idle() -> bool:
    """No task waiting in the benchmark's Redis db, nor taken by a worker and not yet
    acknowledged (Celery's Redis transport keeps those in the `unacked` hash)."""
    from config.celery import app as celery_app

    with celery_app.connection_for_write() as conn:
        client = conn.default_channel.client
        waiting = sum(client.llen(key) for key in client.scan_iter() if client.type(key) == b"list")
        return waiting == 0 and client.hlen("unacked") == 0


def corpus_texts() -> list[tuple[str, str]]:
    from django.conf import settings

    from triage.ml.corpus import load_corpus

    return [(row.subject, row.body) for row in load_corpus(settings.TRIAGE_CORPUS_DIR)]
