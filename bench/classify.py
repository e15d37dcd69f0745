"""Triage classification throughput and latency, in-process: both paths.

1. The TF-IDF path (classify_messages --fast, and the model when no transformer is
   active), fit here, on one core: batch throughput and single-message p50/p99.
2. The transformer ensemble (fine-tuned MiniLM int8 ONNX + TF-IDF, and the neighbours'
   vote where the version has one, asked with the same graph's imitated embedding), the
   newest ensemble model version in the database (train_triage_model --variant
   minilm-finetuned-tfidf-ensemble), on two cores: throughput in calls of 64 messages, and
   single-message p50/p99.

Both time the model plus the red-flag layer: the same classify_items() the worker and
classify_messages use.

    DEBUG=1 .venv/bin/python bench/classify.py [--messages N] [--variant V]

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
from triage.ml.ensemble import ENSEMBLE_VARIANT  # noqa: E402
from triage.ml.training import fit_model  # noqa: E402
from triage.model_registry import _load  # noqa: E402
from triage.models import ModelVersion  # noqa: E402

ENSEMBLE_BATCH = 64


def real_questions() -> list[TriageInput]:
    path = settings.BASE_DIR.parent / "shared" / "data" / "real_questions.jsonl"
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [TriageInput(body=row["text"]) for row in rows]


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[max(0, int(len(sorted_values) * q) - 1)]


def single_latencies(model, messages) -> tuple[float, float]:
    latencies = []
    for message in messages:
        t0 = time.perf_counter()
        classify_items(model, [message])
        latencies.append((time.perf_counter() - t0) * 1000)
    latencies.sort()
    return latencies[len(latencies) // 2], percentile(latencies, 0.99)


def bench_tfidf(args, pool) -> float:
    uses_embeddings = VARIANTS[args.variant].embeddings
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    corpus = load_corpus(settings.TRIAGE_CORPUS_DIR)
    print(f"training {args.variant} on {len(corpus)} messages...", file=sys.stderr)
    model = fit_model(corpus, args.variant)
    messages = min(args.messages, len(pool)) if uses_embeddings else args.messages
    batch = [pool[i % len(pool)] for i in range(messages)]
    mean_chars = statistics.mean(len(m.subject) + len(m.body) for m in batch)

    classify_items(model, batch[:500])  # warm-up
    embeddings.clear_cache()
    started = time.perf_counter()
    for start in range(0, len(batch), 1000):
        classify_items(model, batch[start : start + 1000])
    elapsed = time.perf_counter() - started
    embeddings.clear_cache()
    p50, p99 = single_latencies(model, pool[: args.single])
    print(f"TF-IDF path ({args.variant}), one core:")
    print(
        f"  batch: {len(batch)} messages (mean {mean_chars:.0f} chars) in {elapsed:.2f}s "
        f"= {len(batch) / elapsed:,.0f} messages/s"
    )
    print(f"  single message: p50 {p50:.2f} ms, p99 {p99:.2f} ms over {args.single} messages")
    return len(batch) / elapsed


def bench_ensemble(args, pool) -> float | None:
    version = ModelVersion.objects.filter(metrics__variant=ENSEMBLE_VARIANT).order_by("-id").first()
    if version is None:
        print(
            "ensemble path: no ensemble model version in this database; train one with\n"
            "  DEBUG=1 .venv/bin/python manage.py train_triage_model "
            f"--variant {ENSEMBLE_VARIANT} --no-activate"
        )
        return None
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:2]))  # two cores
    model = _load(version)
    model.transformer.threads = 2
    neighbours = getattr(model, "neighbours", None)
    # Versions with a vote from before 2026-12-06's third change run a second graph.
    if neighbours is not None and neighbours.encoder is not None:
        neighbours.encoder.threads = 2
    messages = min(args.ensemble_messages, len(pool))
    batch = pool[:messages]
    mean_chars = statistics.mean(len(m.subject) + len(m.body) for m in batch)
    classify_items(model, batch[:ENSEMBLE_BATCH])  # warm-up: session and tokenizer
    started = time.perf_counter()
    for start in range(0, len(batch), ENSEMBLE_BATCH):
        classify_items(model, batch[start : start + ENSEMBLE_BATCH])
    elapsed = time.perf_counter() - started
    p50, p99 = single_latencies(model, pool[: args.single])
    kind = "int8" if model.transformer.quantized else "float32"
    vote = " + the neighbours' vote" if getattr(model, "neighbours", None) else ""
    print(f"ensemble path ({version.name}, MiniLM {kind} ONNX + TF-IDF{vote}), two cores:")
    print(
        f"  batch of {ENSEMBLE_BATCH}: {len(batch)} messages (mean {mean_chars:.0f} chars) in "
        f"{elapsed:.2f}s = {len(batch) / elapsed:,.0f} messages/s"
    )
    print(f"  single message: p50 {p50:.2f} ms, p99 {p99:.2f} ms over {args.single} messages")
    return len(batch) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--ensemble-messages", type=int, default=4_000)
    parser.add_argument("--single", type=int, default=1_000)
    parser.add_argument("--variant", default=DEFAULT_VARIANT, choices=sorted(VARIANTS))
    parser.add_argument("--path", choices=["both", "tfidf", "ensemble"], default="both")
    args = parser.parse_args()
    corpus = load_corpus(settings.TRIAGE_CORPUS_DIR)
    pool = [
        TriageInput(subject=r.subject, body=r.body, on_chemotherapy=r.on_chemotherapy)
        for r in corpus
    ] + real_questions()
    # A fixed shuffle: batches mix short portal messages and long questions, as an inbox does.
    pool = [pool[(i * 7919) % len(pool)] for i in range(len(pool))]
    rates = {}
    if args.path in ("both", "ensemble"):
        # First: the TF-IDF half pins the process to one core.
        rates["classify_ensemble"] = bench_ensemble(args, pool)
    if args.path in ("both", "tfidf"):
        rates["classify_tfidf"] = bench_tfidf(args, pool)
    for name, rate in rates.items():
        if rate is not None:
            print(f"{name}: {rate:.0f} msg/s")


if __name__ == "__main__":
    main()
