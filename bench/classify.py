"""Triage classification throughput and latency, in-process, on one core.

Prints batch throughput (messages/s) and single-message latency p50/p99, for the model
plus the red-flag layer: the same classify_items() the worker and classify_messages use.

    OMP_NUM_THREADS=1 DEBUG=1 .venv/bin/python bench/classify.py [--messages N] [--variant V]

An embedding variant (needs the optional packages) is measured on distinct messages with
its per-text embedding cache emptied first, so no message is counted as free.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django

django.setup()

from django.conf import settings  # noqa: E402

from triage.ml import embeddings  # noqa: E402
from triage.ml.classifier import DEFAULT_VARIANT, VARIANTS, TriageInput  # noqa: E402
from triage.ml.corpus import load_corpus  # noqa: E402
from triage.ml.decision import classify_items  # noqa: E402
from triage.ml.training import fit_model  # noqa: E402


def real_questions() -> list[TriageInput]:
    path = settings.BASE_DIR.parent / "shared" / "data" / "real_questions.jsonl"
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [TriageInput(body=row["text"]) for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--single", type=int, default=2_000)
    parser.add_argument("--variant", default=DEFAULT_VARIANT, choices=sorted(VARIANTS))
    args = parser.parse_args()
    uses_embeddings = VARIANTS[args.variant].embeddings
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core

    corpus = load_corpus(settings.TRIAGE_CORPUS_DIR)
    print(f"training {args.variant} on {len(corpus)} messages...", file=sys.stderr)
    model = fit_model(corpus, args.variant)
    pool = [
        TriageInput(subject=r.subject, body=r.body, on_chemotherapy=r.on_chemotherapy)
        for r in corpus
    ] + real_questions()
    if uses_embeddings:
        args.messages = min(args.messages, len(pool))
    batch = [pool[i % len(pool)] for i in range(args.messages)]
    mean_chars = statistics.mean(len(m.subject) + len(m.body) for m in batch)

    classify_items(model, batch[:500])  # warm-up
    embeddings.clear_cache()
    started = time.perf_counter()
    for start in range(0, len(batch), 1000):
        classify_items(model, batch[start : start + 1000])
    elapsed = time.perf_counter() - started

    embeddings.clear_cache()
    latencies = []
    for message in pool[: args.single]:
        t0 = time.perf_counter()
        classify_items(model, [message])
        latencies.append((time.perf_counter() - t0) * 1000)
    latencies.sort()
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[int(len(latencies) * 0.99) - 1]

    print(
        f"batch: {len(batch)} messages (mean {mean_chars:.0f} chars) in {elapsed:.2f}s "
        f"= {len(batch) / elapsed:,.0f} messages/s on one core"
    )
    print(f"single message: p50 {p50:.2f} ms, p99 {p99:.2f} ms over {len(latencies)} messages")


if __name__ == "__main__":
    main()
