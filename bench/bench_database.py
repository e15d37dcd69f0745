"""Points a benchmark at its own PostgreSQL database before Django starts: DATABASE_URL
when set, else `default_db` on 127.0.0.1, made if missing (migrated by the benchmark)."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def use_bench_database(default_db: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "1")
    if "DATABASE_URL" in os.environ:
        return
    import psycopg

    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{default_db}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        if not c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [default_db]).fetchone():
            c.execute(f'CREATE DATABASE "{default_db}"')
