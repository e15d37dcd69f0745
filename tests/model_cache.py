"""The default triage model for the suite, fit once per corpus change and cached under
var/test-cache. Run as a module (python -m tests.model_cache), it fits and writes the cache
in its own process: the suite starts it at session start, so the fit (about 50 s on two
cores) runs beside the tests that need no model instead of in front of the first one.
Under pytest-xdist every worker starts one; they take turns on a file lock, and the first
fits while the others wait for its file, so the corpus is fit once."""

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL_CACHE = ROOT / "var" / "test-cache"
LOCK = MODEL_CACHE / "fit.lock"


def log_path() -> Path:
    return MODEL_CACHE / f"fit-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.log"


def cache_path(data_hash: str, variant: str) -> Path:
    return MODEL_CACHE / f"triage-{variant}-{data_hash[:16]}.joblib"


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_bytes(data)
    partial.replace(path)  # a reader never sees half a file


def start_background_fit() -> subprocess.Popen:
    MODEL_CACHE.mkdir(parents=True, exist_ok=True)
    with log_path().open("w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.model_cache"],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_for(path: Path, fitting: subprocess.Popen | None, *, timeout: float = 900) -> bool:
    """Whether `path` exists once the background fit has ended (or at once, if none)."""
    deadline = time.monotonic() + timeout
    while fitting is not None and fitting.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    return path.exists()


def main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.conf import settings

    from triage.ml.classifier import DEFAULT_VARIANT
    from triage.ml.corpus import corpus_hash, load_corpus
    from triage.ml.training import fit_model
    from triage.model_registry import serialize_model

    rows = load_corpus(settings.TRIAGE_CORPUS_DIR)
    path = cache_path(corpus_hash(rows), DEFAULT_VARIANT)
    with LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when this process ends, however it ends
        if not path.exists():
            write_atomically(path, serialize_model(fit_model(rows, DEFAULT_VARIANT)))
    print(f"cached {path.name}")


if __name__ == "__main__":
    main()
