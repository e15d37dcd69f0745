"""The triage v2 figures (docs/triage.md): out of fold over the whole corpus, per seed,
for TF-IDF alone, the fine-tuned transformer alone (float and int8 ONNX) and their
average; pooled and on the real questions alone; means and spreads over the seeds.

Reads the transformer's out-of-fold probabilities written by bench/transformer_oof.py
(var/oof/); fits the TF-IDF models on the same folds itself (seconds): "tfidf", the fast
path's, on the corpus alone, and "tfidf-half", the one the ensemble averages, with the
training-only written questions added to every fold's training part (never scored).
`--without-training-only` averages the fast path's model instead, as before 2026-12-06.
"neighbours" is the neighbours' vote alone (triage/ml/neighbours.py: the pool is
pretrained MiniLM's embeddings, each fold voted on by the other folds and the written
questions; a row asks with its fold's transformer's int8 imitation of its embedding, as
served, or with its own pretrained embedding where the files hold no imitation);
"pair-*" the transformer and TF-IDF half averaged, the served recipe before the vote;
"ensemble-*" the pair with the vote blended in, as served: ranked by the blend, and
decided by it except where the pair alone calls a message more acute
(ensemble.more_acute_of). `--without-neighbours` leaves the vote out.

    .venv/bin/python bench/triage_v2_report.py --seeds 0 1 2 --folds 4 [--json out.json]
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from triage.ml.classifier import DEFAULT_VARIANT, message_text  # noqa: E402
from triage.ml.corpus import load_corpus, load_training_only_rows  # noqa: E402
from triage.ml.ensemble import (  # noqa: E402
    HEADS,
    average,
    cross_fitted_ensemble,
    read_imitation_out_of_fold,
    read_transformer_out_of_fold,
)
from triage.ml.neighbours import (  # noqa: E402
    DEFAULT_NEIGHBOUR_WEIGHT,
    NeighbourPool,
    out_of_fold_votes,
)
from triage.ml.out_of_fold import cross_fitted_decisions, pooled_and_real, spread  # noqa: E402
from triage.ml.training import out_of_fold_probabilities, red_flag_hits, stratified_folds  # noqa: E402

OUT = ROOT / "var" / "oof"
FIGURES = [
    ("real_questions", "urgency_auc", "real: urgency ROC AUC", ">= 0.87"),
    ("real_questions", "urgent_or_above_recall", "real: U/E recall", ">= 0.90"),
    ("real_questions", "routine_flagged", "real: routine flagged", "<= 0.30"),
    ("real_questions", "service_accuracy", "real: service acc", ">= 0.82"),
    ("real_questions", "acuity_accuracy", "real: acuity acc", ""),
    ("real_questions", "evisit_f1", "real: e-visit F1", ""),
    ("pooled", "urgency_auc", "pooled: urgency ROC AUC", ""),
    ("pooled", "emergent_recall", "pooled: emergent recall", ">= 0.98"),
    ("pooled", "urgent_or_above_recall", "pooled: U/E recall", ">= 0.97"),
    ("pooled", "emergent_as_routine", "pooled: emergent -> routine", "0"),
    ("pooled", "routine_flagged", "pooled: routine flagged", ""),
    ("pooled", "acuity_accuracy", "pooled: acuity acc", ""),
    ("pooled", "service_accuracy", "pooled: service acc", ">= 0.85"),
    ("pooled", "evisit_f1", "pooled: e-visit F1", ">= 0.72"),
]


def tfidf_oof(rows, seed: int, folds: int, out: Path = OUT, training_only=()) -> dict:
    extra = f"-plus{len(training_only)}" if training_only else ""
    path = out / f"tfidf-{DEFAULT_VARIANT}{extra}-k{folds}-seed{seed}.npz"
    if path.exists():
        data = np.load(path)
        return {h: data[h] for h in HEADS}
    probabilities = out_of_fold_probabilities(
        rows, DEFAULT_VARIANT, folds, salt=f"oof-seed{seed}", training_only=training_only
    )
    np.savez(path, **probabilities)
    return probabilities


def embeddings(rows, out: Path) -> np.ndarray:
    """Pretrained MiniLM's embeddings of these rows, the pool as fit_ensemble builds it
    (cached: a minute or two)."""
    import hashlib

    texts = [message_text(r.subject, r.body) for r in rows]
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:12]
    path = out / f"minilm-embeddings-{key}.npy"
    if path.exists():
        return np.load(path)
    from triage.ml.transformer.fine_tuning import pretrained_embeddings

    values = pretrained_embeddings(texts)
    np.save(path, values)
    return values


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--weight", type=float, default=0.5, help="the transformer's share")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--oof-dir", type=Path, default=OUT, help="where transformer_oof.py wrote its files"
    )
    parser.add_argument("--markdown", action="store_true", help="the table as markdown too")
    parser.add_argument(
        "--without-training-only",
        action="store_true",
        help="the ensembles average the fast path's TF-IDF model (as before 2026-12-06)",
    )
    parser.add_argument(
        "--without-neighbours", action="store_true", help="no neighbours' vote in the ensembles"
    )
    parser.add_argument("--neighbour-weight", type=float, default=DEFAULT_NEIGHBOUR_WEIGHT)
    args = parser.parse_args()
    args.oof_dir.mkdir(parents=True, exist_ok=True)
    corpus_dir = ROOT / "triage" / "corpus"
    rows = load_corpus(corpus_dir)
    training_only = [] if args.without_training_only else load_training_only_rows(corpus_dir)
    hits = red_flag_hits(rows)
    pool = written = None
    if not args.without_neighbours:
        pool = NeighbourPool.of(rows, embeddings(rows, args.oof_dir))
        if training_only:
            written = NeighbourPool.of(training_only, embeddings(training_only, args.oof_dir))
    results: dict[str, list[dict]] = {}
    for seed in args.seeds:
        folds = stratified_folds(rows, args.folds, salt=f"oof-seed{seed}")
        variants = {"tfidf": tfidf_oof(rows, seed, args.folds, args.oof_dir)}
        half = "tfidf"
        if training_only:
            half = "tfidf-half"
            variants[half] = tfidf_oof(rows, seed, args.folds, args.oof_dir, training_only)
        votes = None
        for kind in ("float", "int8"):
            where = {"seed": seed, "folds": args.folds, "rows": len(rows), "kind": kind}
            transformer = read_transformer_out_of_fold(args.oof_dir, **where)
            if pool is not None:
                imitation = read_imitation_out_of_fold(args.oof_dir, **where)
                votes = out_of_fold_votes(pool, folds, written, queries=imitation)
                if kind == "int8" or transformer is None:
                    variants["neighbours"] = votes
            if transformer is None:
                continue
            variants[f"transformer-{kind}"] = transformer
            weights = dict.fromkeys(HEADS, args.weight)
            pair = average(variants[half], transformer, weights)
            if votes is not None:
                variants[f"pair-{kind}"] = pair
            variants[f"ensemble-{kind}"] = (pair, votes)
        for name, probabilities in variants.items():
            if name.startswith("ensemble-"):
                pair, votes = probabilities
                predictions, probabilities = cross_fitted_ensemble(
                    pair, votes, args.neighbour_weight, rows, folds, hits
                )
            else:
                predictions = cross_fitted_decisions(probabilities, rows, folds, hits)
            results.setdefault(name, []).append(pooled_and_real(rows, predictions, probabilities))
    summary = {
        name: {f"{part}.{key}": spread([r[part][key] for r in runs]) for part, key, _, _ in FIGURES}
        for name, runs in results.items()
    }
    names = list(summary)
    print(f"out of fold, {args.folds} folds, seeds {args.seeds}; mean [min, max] over seeds")
    print(f"{'figure':32}{'target':>9}" + "".join(f"{n:>24}" for n in names))
    for part, key, label, target in FIGURES:
        cells = []
        for n in names:
            s = summary[n][f"{part}.{key}"]
            cells.append(f"{s['mean']:.3f} [{s['min']:.3f},{s['max']:.3f}]")
        print(f"{label:32}{target:>9}" + "".join(f"{c:>24}" for c in cells))
    print("seeds per variant: " + ", ".join(f"{n} {len(results[n])}" for n in names))
    if args.markdown:
        print()
        print("| figure | target | " + " | ".join(names) + " |")
        print("|---|---|" + "---|" * len(names))
        for part, key, label, target in FIGURES:
            cells = []
            for n in names:
                s = summary[n][f"{part}.{key}"]
                digits = 1 if key == "emergent_as_routine" else 3
                cells.append(
                    f"{s['mean']:.{digits}f} ({s['min']:.{digits}f} to {s['max']:.{digits}f})"
                )
            print(f"| {label} | {target} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "runs": results}, indent=1))
    # The figure the issue leads with: the real questions' urgency AUC of the last
    # variant in the table (the ensemble when its probabilities are there).
    last = names[-1]
    auc = summary[last]["real_questions.urgency_auc"]["mean"]
    print(f"triage_v2_real_urgency_auc: {auc:.3f} ({last})")


if __name__ == "__main__":
    main()
