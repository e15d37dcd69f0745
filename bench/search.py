"""Search (routing.search, GET /work/search) over 1,000,000 patient messages on PostgreSQL.

One clinic: 50,000 patients (names from lists of first names and surnames, English and
Spanish), 600,000 conversations and 1,000,000 messages whose subject and text are drawn
from the question corpus (../shared/data/real_questions.jsonl: each message joins two of
its questions, so the text varies), a few Spanish sentences, and one rare word in 12
messages; one work item per conversation (70% closed). Loaded with set-based SQL (INSERT
... SELECT over generate_series from a corpus table), the GIN index dropped during the
load and built after, then ANALYZE. Built once: a second run finds it and only times.

Times GET /work/search as a nurse in-process (Django test client: middleware, view,
selector, template, the access log insert; no network) for several kinds of query: an
exact MRN, a surname, a rare word, a common word, a word in no message, an uncommon word,
two words, a Spanish word, and filters alone. Prints
p50 and p95 per kind; the last line is the p95 over every request.

    .venv/bin/python bench/search.py [--requests 40] [--rebuild]

Uses DATABASE_URL, else postgres://postgres@127.0.0.1:5432/portal_triage_bench_search
(made and migrated if missing).
"""

import argparse
import importlib
import json
import statistics
import time

from bench_database import ROOT, use_bench_database

use_bench_database("portal_triage_bench_search")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from accounts.models import Clinic, Membership, Role, User  # noqa: E402
from routing.services import ensure_default_queues  # noqa: E402

SLUG = "bench-search"
MESSAGES = 1_000_000
CONVERSATIONS = 600_000
PATIENTS = 50_000
CHUNK = 250_000
RARE_WORD = "xanthelasma"  # in 12 messages only
CORPUS = [ROOT.parent / "shared" / "data" / "real_questions.jsonl"]
SPANISH = [
    ("Pregunta sobre mi medicina", "Tengo dolor de cabeza y náuseas desde ayer, ¿qué hago?"),
    ("Fiebre", "Tengo fiebre de 38.5 y escalofríos después de la quimioterapia."),
    ("Cita", "¿Puedo cambiar mi cita del martes para la tarde? Gracias."),
    ("Receta", "Necesito una nueva receta para mi medicina de la presión."),
    ("Resultados", "¿Ya están los resultados de mis análisis de sangre?"),
]
FIRST = "Maria Jose Juan Ana Luis Carmen Rosa Carlos John Mary James Linda Robert Susan David Karen"
LAST = (
    "Garcia Rodriguez Martinez Hernandez Lopez Gonzalez Perez Sanchez Ramirez Torres Flores "
    "Rivera Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas "
    "Moore Jackson Martin Lee Thompson White Harris Clark Lewis Robinson Walker Young Allen "
    "Quarrington Vantongeren Wexcombe Okonkwo Nakamura Kowalski Lindqvist Abernathy"
)


def corpus() -> list[tuple[str, str]]:
    pairs = []
    for path in CORPUS:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            text = json.loads(line)["text"]
            subject, _, body = text.partition("\n")
            subject = subject.removeprefix("SUBJECT:").strip()[:200]
            body = body.removeprefix("MESSAGE:").strip() or subject
            pairs.append((subject, body))
    return pairs + SPANISH * 20  # Spanish: about 1 message in 15


def built(clinic: Clinic) -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM inbox_message WHERE clinic_id = %s", [clinic.pk])
        messages = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM routing_workitem WHERE clinic_id = %s", [clinic.pk])
        return messages == MESSAGES and cur.fetchone()[0] > 0


BLANK = {"boolean": "false", "jsonb": "'{}'", "integer": "0", "smallint": "0", "bigint": "0"}


def blank_columns(cur, table: str, given: str) -> tuple[str, str]:
    """Columns added since this bench was written, NOT NULL without a database default
    (Django keeps defaults in Python): the names and a blank value each, to append."""
    named = {c.strip() for c in given.split(",")}
    cur.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s"
        " AND is_nullable = 'NO' AND column_default IS NULL",
        [table],
    )
    extra = [(c, BLANK.get(t, "''")) for c, t in cur.fetchall() if c not in named]
    return "".join(f", {c}" for c, _ in extra), "".join(f", {v}" for _, v in extra)


def build(clinic: Clinic, nurse: User) -> None:
    queues = ensure_default_queues(clinic=clinic)
    queue_ids = [queues[r].pk for r in (Role.CLERICAL, Role.MA, Role.NURSE, Role.PHYSICIAN)]
    texts = corpus()
    index = importlib.import_module("inbox.migrations.0010_message_text_search")
    started = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(
            "TRUNCATE routing_workevent, routing_workitem, inbox_outgoingmessage,"
            " triage_classification, inbox_message, inbox_conversation,"
            " inbox_patientdataaccess, inbox_patient CASCADE"
        )
        cur.execute(f"DROP INDEX IF EXISTS {index.INDEX}")
        cur.execute("CREATE TEMP TABLE bench_corpus (i int, subject text, body text)")
        with cur.copy("COPY bench_corpus (i, subject, body) FROM STDIN") as copy:
            for i, (subject, body) in enumerate(texts):
                copy.write_row((i, subject, body))
        cur.execute(
            "INSERT INTO inbox_patient (id, created_at, updated_at, mrn, name,"
            " preferred_language, on_chemotherapy, clinic_id, phone)"
            " SELECT n, now(), now(), 'MRN' || lpad(n::text, 7, '0'),"
            " (string_to_array(%s, ' '))[1 + n %% %s] || ' '"
            " || (string_to_array(%s, ' '))[1 + (n / %s) %% %s],"
            " CASE WHEN n %% 5 = 0 THEN 'es' ELSE 'en' END, n %% 9 = 0, %s, ''"
            " FROM generate_series(1, %s) AS n",
            [
                FIRST,
                len(FIRST.split()),
                LAST,
                len(FIRST.split()),
                len(LAST.split()),
                clinic.pk,
                PATIENTS,
            ],
        )
        cur.execute(
            "INSERT INTO inbox_conversation (id, created_at, updated_at, external_id,"
            " subject, clinic_id, patient_id)"
            " SELECT n, now(), now(), 'c' || n, '', %s, 1 + n %% %s"
            " FROM generate_series(1, %s) AS n",
            [clinic.pk, PATIENTS, CONVERSATIONS],
        )
        count = len(texts)
        for start in range(1, MESSAGES + 1, CHUNK):
            end = min(MESSAGES, start + CHUNK - 1)
            # Message n: conversation 1 + n % CONVERSATIONS; received over the last year.
            cur.execute(
                "INSERT INTO inbox_message (id, created_at, updated_at, external_id, subject,"
                " body, category, sent_at, status, status_changed_at, clinic_id,"
                " conversation_id)"
                " SELECT n, at, at, 'm' || n, a.subject,"
                " a.body || ' ' || b.body || CASE WHEN n %% 83333 = 0 THEN ' ' || %s ELSE '' END,"
                " 'general', at, 'routed', at, %s, 1 + n %% %s"
                " FROM (SELECT n, now() - (%s - n) * interval '30 seconds' AS at"
                "       FROM generate_series(%s, %s) AS n) AS d"
                " JOIN bench_corpus a ON a.i = n %% %s"
                " JOIN bench_corpus b ON b.i = (n::bigint * 7919) %% %s",
                [RARE_WORD, clinic.pk, CONVERSATIONS, MESSAGES, start, end, count, count],
            )
            print(f"  {end:,} messages ({time.perf_counter() - started:.0f} s)", flush=True)
        # One work item per conversation, on its newest message (the router's shape).
        columns = (
            "id, created_at, updated_at, status, acuity, acuity_rank, service_level, due_at,"
            " routing_reason, routing_decision, escalation_level, clinic_id, conversation_id,"
            " message_id, queue_id, first_response_role, claimed_by_id, claimed_at"
        )
        more_columns, more_values = blank_columns(cur, "routing_workitem", columns)
        cur.execute(
            # Column names from information_schema, values constants: nothing typed in.
            f"INSERT INTO routing_workitem ({columns}{more_columns})"  # noqa: S608
            " SELECT c, now(), now(),"
            " CASE WHEN c %% 10 < 7 THEN 'closed' WHEN c %% 10 = 7 THEN 'claimed' ELSE 'open' END,"
            " (ARRAY['emergent','urgent','routine'])[rank + 1], rank, 'nurse',"
            " now() + (c %% 5000) * interval '1 minute', '', '{}', 0, %s, c, m, "
            " (%s::bigint[])[1 + c %% 4], '',"
            " CASE WHEN c %% 10 = 7 THEN %s END, CASE WHEN c %% 10 = 7 THEN now() END"
            f"{more_values}"
            " FROM (SELECT conversation_id AS c, max(id) AS m,"
            "       CASE WHEN conversation_id %% 20 = 0 THEN 0 WHEN conversation_id %% 5 = 0"
            "       THEN 1 ELSE 2 END AS rank"
            "       FROM inbox_message WHERE clinic_id = %s GROUP BY conversation_id) AS d",
            [clinic.pk, queue_ids, nurse.pk, clinic.pk],
        )
        print(f"  work items ({time.perf_counter() - started:.0f} s)", flush=True)
        for table in ("inbox_patient", "inbox_conversation", "inbox_message", "routing_workitem"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {MESSAGES + 1})")
        cur.execute("SET maintenance_work_mem = '512MB'")
        # The GIN index built once over the loaded rows (kept up row by row, the load
        # would take several times as long); search_text was set by the trigger.
        cur.execute(next(sql for sql in index.CREATE if f"INDEX {index.INDEX} " in sql))
    print(f"  GIN index ({time.perf_counter() - started:.0f} s)", flush=True)
    with connection.cursor() as cur:
        for table in ("inbox_patient", "inbox_conversation", "inbox_message", "routing_workitem"):
            cur.execute(f"ANALYZE {table}")


QUERIES = {
    "MRN": {"q": "MRN0012345"},
    "name": {"q": "Okonkwo"},
    "rare word": {"q": RARE_WORD},
    "common word": {"q": "pain"},
    "word nowhere": {"q": "zyzzogeton"},
    "uncommon word": {"q": "nulytely"},
    "two words": {"q": "blood pressure"},
    "Spanish word": {"q": "escalofríos"},
    "filters only": {"acuity": "routine", "due": "today", "assignee": "nobody"},
}


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    clinic, _ = Clinic.objects.get_or_create(slug=SLUG, defaults={"name": "Bench search clinic"})
    nurse, _ = User.objects.get_or_create(username="bench-search-nurse")
    Membership.objects.get_or_create(user=nurse, clinic=clinic, defaults={"role": Role.NURSE})
    if args.rebuild or not built(clinic):
        print(f"building {MESSAGES:,} messages", flush=True)
        build(clinic, nurse)
    client = Client(SERVER_NAME="localhost")
    client.force_login(nurse)
    every = []
    for kind, params in QUERIES.items():
        response = client.get("/work/search", params)  # warm
        assert response.status_code == 200, (kind, response.status_code)
        results = response.content.decode().count("data-item-url=")
        times = []
        for _ in range(args.requests):
            t0 = time.perf_counter()
            response = client.get("/work/search", params)
            times.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200
        every += times
        print(
            f"{kind:<14} {json.dumps(params, ensure_ascii=False):<58} {results:>3} rows"
            f"  p50 {statistics.median(times):6.1f} ms  p95 {p95(times):6.1f} ms"
        )
    print(f"search_p95: {p95(every):.1f} ms")


if __name__ == "__main__":
    main()
