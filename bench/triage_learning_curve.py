"""How the real questions' urgency ranking grows with training data (docs/triage.md,
"Learning curves"): the question behind issue 19's missed targets is whether more of
the same labelled data would close them, and how much.

Three curves, each the real questions' urgency ROC AUC out of fold:

- `--folds`: the cheap members (the TF-IDF half, the neighbours' vote and the two
  blended as served, at 0.2) at k folds, so each row is scored by models fit on
  1 - 1/k of the corpus; seconds to minutes each.
- `--real-shares` / `--portal-shares`: the same at 4 folds with only part of one kind of
  training row kept (the real questions, or the portal-style rows); the held-out fold
  is always whole.
  `--transformer-at-real-share SHARE DIR` adds the served members at a share, from
  bench/transformer_oof.py's `--real-share` files.
- `--transformer K DIR`: the served ensemble's members from bench/transformer_oof.py's
  files for k = K in DIR (written with `--folds K`, all folds or `--only-folds`), on
  the rows every given k has scored, with a paired bootstrap of the largest k against
  the next.

    .venv/bin/python bench/triage_learning_curve.py --folds 2 4 8 16 \\
        --real-shares 0 0.25 0.5 0.75 1 --portal-shares 0.25 0.5 \\
        --transformer 2 var/oof-k2 --transformer 4 var/oof-k4 --transformer 8 var/oof-k8
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from transformer_oof import training_rows  # noqa: E402
from triage_v2_report import embeddings, tfidf_oof  # noqa: E402

from triage.ml.classifier import (  # noqa: E402
    ACUITY_CLASSES,
    DEFAULT_VARIANT,
    SERVICE_LEVEL_CLASSES,
    TriageModel,
    empty_probabilities,
)
from triage.ml.corpus import is_real_question, load_corpus, load_training_only_rows  # noqa: E402
from triage.ml.ensemble import HEADS, average, out_of_fold_path  # noqa: E402
from triage.ml.neighbours import (  # noqa: E402
    DEFAULT_NEIGHBOUR_WEIGHT,
    NeighbourPool,
    blend,
    out_of_fold_votes,
)
from triage.ml.training import as_input, stratified_folds  # noqa: E402

CACHE = ROOT / "var" / "learning-curve"
URGENT_OR_ABOVE = [ACUITY_CLASSES.index("urgent"), ACUITY_CLASSES.index("emergent")]


class Corpus:
    """The corpus, the written questions and their pretrained embeddings, loaded once
    for every curve, and the two figures each curve reports."""

    def __init__(self) -> None:
        corpus_dir = ROOT / "triage" / "corpus"
        self.rows = load_corpus(corpus_dir)
        self.written = load_training_only_rows(corpus_dir)
        self.embeddings = embeddings(self.rows, CACHE)
        self.pool = NeighbourPool.of(self.rows, self.embeddings)
        self.written_pool = NeighbourPool.of(self.written, embeddings(self.written, CACHE))
        self.real = np.array([is_real_question(r) for r in self.rows])
        self.urgent_or_above = np.array([r.acuity in ("urgent", "emergent") for r in self.rows])
        self.service = np.array([SERVICE_LEVEL_CLASSES.index(r.service_level) for r in self.rows])

    def ranking(self, probabilities: dict, where: np.ndarray | None = None) -> float:
        """`where`: a mask or an index of rows (the real questions unless given)."""
        where = self.real if where is None else where
        scores = probabilities["acuity"][:, URGENT_OR_ABOVE].sum(axis=1)
        return float(roc_auc_score(self.urgent_or_above[where], scores[where]))

    def service_by_argmax(self, probabilities: dict, where: np.ndarray) -> float:
        said = probabilities["service_level"].argmax(axis=1)
        return float(np.mean(said[where] == self.service[where]))


def cheap_members(half: dict, votes: dict) -> dict[str, dict]:
    return {
        "tfidf-half": half,
        "vote": votes,
        "half+vote": blend(half, votes, DEFAULT_NEIGHBOUR_WEIGHT),
    }


def by_folds(corpus: Corpus, ks: list[int], seeds: list[int]) -> None:
    print("cheap members by folds: real urgency ROC AUC, mean [min, max] over seeds")
    for k in ks:
        found: dict[str, list[float]] = {}
        for seed in seeds:
            folds = stratified_folds(corpus.rows, k, salt=f"oof-seed{seed}")
            half = tfidf_oof(corpus.rows, seed, k, CACHE, corpus.written)
            votes = out_of_fold_votes(corpus.pool, folds, corpus.written_pool)
            for name, probabilities in cheap_members(half, votes).items():
                found.setdefault(name, []).append(corpus.ranking(probabilities))
        print(f"  k={k:<3} trained on {1 - 1 / k:.1%}: " + _cells(found), flush=True)


def by_share(
    corpus: Corpus,
    kind: str,
    shares: list[float],
    seeds: list[int],
    transformers: dict[float, Path] | None = None,
) -> None:
    """At 4 folds, each fold's training part keeps `share` of its real questions (kind
    "real") or of its portal-style rows (kind "portal"), drawn as transformer_oof.py's
    --real-share draws them; the written questions stay in the TF-IDF half and among the
    voters, as served. Where `transformers` gives a share transformer_oof.py's files
    (--real-share, 4 folds, the first seed), the served members are shown at it too."""
    rows, n = corpus.rows, len(corpus.rows)
    inputs = [as_input(r) for r in rows]
    transformers = transformers or {}
    print(f"cheap members with part of the {kind} rows kept (4 folds)")
    for share in shares:
        found: dict[str, list[float]] = {}
        served = None
        for seed in seeds:
            folds = stratified_folds(rows, 4, salt=f"oof-seed{seed}")
            half = empty_probabilities(n)
            voters = []
            for fold, held in enumerate(folds):
                training = training_rows(
                    corpus.real, held, kind=kind, share=share, seed=seed, fold=fold
                )
                model = TriageModel.train(
                    [rows[i] for i in training] + list(corpus.written), variant=DEFAULT_VARIANT
                )
                for head, values in model.probabilities([inputs[i] for i in held]).items():
                    half[head][held] = values
                voters.append(corpus.pool.subset(training).joined(corpus.written_pool))
            votes = _votes(folds, voters, corpus.embeddings)
            for name, probabilities in cheap_members(half, votes).items():
                found.setdefault(name, []).append(corpus.ranking(probabilities))
            if share in transformers and seed == seeds[0]:
                transformer, queries, scored = transformer_files(
                    corpus, transformers[share], 4, seed
                )
                if not scored.all():
                    sys.exit(f"{transformers[share]}: not every fold of seed {seed} is there")
                served = served_members(half, transformer, _votes(folds, voters, queries))
        print(f"  {share:.0%} of them kept: " + _cells(found), flush=True)
        if served is not None:
            print(
                f"    served members, seed {seeds[0]}: "
                + "  ".join(
                    f"{name} {corpus.ranking(p):.3f} (service by argmax "
                    f"{corpus.service_by_argmax(p, corpus.real):.3f})"
                    for name, p in served.items()
                ),
                flush=True,
            )


def _votes(folds: list[list[int]], voters: list[NeighbourPool], queries: np.ndarray) -> dict:
    out = {h: np.zeros_like(v) for h, v in empty_probabilities(len(queries)).items()}
    for held, pool in zip(folds, voters, strict=True):
        for head, values in pool.vote(queries[held]).items():
            out[head][held] = values
    return out


def transformer_files(
    corpus: Corpus, directory: Path, k: int, seed: int
) -> tuple[dict[str, dict], np.ndarray, np.ndarray]:
    """transformer_oof.py's files for k and seed: the probabilities by kind ("float",
    "int8"), the embeddings the vote asks with (the int8 imitation where scored, else
    pretrained MiniLM's own), and which rows the files score."""
    transformer = {kind: empty_probabilities(len(corpus.rows)) for kind in ("float", "int8")}
    queries = corpus.embeddings.copy()
    scored = np.zeros(len(corpus.rows), dtype=bool)
    for fold in range(k):
        path = out_of_fold_path(directory, seed=seed, folds=k, fold=fold)
        if not path.exists():
            continue
        data = np.load(path)
        scored[data["held"]] = True
        for kind in transformer:
            for head in HEADS:
                transformer[kind][head][data["held"]] = data[f"{kind}_{head}"]
        queries[data["held"]] = data["int8_imitation"]
    if not scored.any():
        sys.exit(f"no transformer files for k={k}, seed {seed} in {directory}")
    return transformer, queries, scored


def served_members(half: dict, transformer: dict[str, dict], votes: dict) -> dict[str, dict]:
    pair = average(half, transformer["int8"], dict.fromkeys(HEADS, 0.5))
    return {
        "transformer-float": transformer["float"],
        "pair-int8": pair,
        "ensemble-int8": blend(pair, votes, DEFAULT_NEIGHBOUR_WEIGHT),
    }


def by_transformer_folds(corpus: Corpus, runs: list[tuple[int, Path]], seed: int) -> None:
    """The served ensemble's members at each k, on the rows every k has scored."""
    members: dict[int, dict[str, dict]] = {}
    scored = np.ones(len(corpus.rows), dtype=bool)
    for k, directory in runs:
        transformer, queries, seen = transformer_files(corpus, directory, k, seed)
        scored &= seen
        folds = stratified_folds(corpus.rows, k, salt=f"oof-seed{seed}")
        half = tfidf_oof(corpus.rows, seed, k, CACHE, corpus.written)
        votes = out_of_fold_votes(corpus.pool, folds, corpus.written_pool, queries=queries)
        members[k] = served_members(half, transformer, votes)
    where = scored & corpus.real
    print(
        f"served members by folds, seed {seed}, on the {scored.sum()} rows every k scored "
        f"({where.sum()} real questions): real urgency ROC AUC; service accuracy by argmax"
    )
    ks = [k for k, _ in runs]
    draw = np.random.default_rng(0)
    samples = [draw.choice(np.flatnonzero(where), where.sum()) for _ in range(1000)]
    for name in members[ks[0]]:
        cells = [
            f"k={k}: {corpus.ranking(members[k][name], where):.3f}, "
            f"{corpus.service_by_argmax(members[k][name], where):.3f}"
            for k in ks
        ]
        if len(ks) > 1:
            last, before = members[ks[-1]][name], members[ks[-2]][name]
            # Each bootstrap sample is an index with repeats; both k rank the same rows.
            gains = [corpus.ranking(last, s) - corpus.ranking(before, s) for s in samples]
            cells.append(
                f"k={ks[-1]} - k={ks[-2]}: {np.mean(gains):+.3f} "
                f"[{np.percentile(gains, 2.5):+.3f}, {np.percentile(gains, 97.5):+.3f}]"
            )
        print(f"  {name:18} " + "  ".join(cells), flush=True)


def _cells(found: dict[str, list[float]]) -> str:
    return "  ".join(
        f"{name} {np.mean(v):.3f} [{np.min(v):.3f}, {np.max(v):.3f}]" for name, v in found.items()
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--folds", type=int, nargs="*", default=[])
    parser.add_argument("--real-shares", type=float, nargs="*", default=[])
    parser.add_argument("--portal-shares", type=float, nargs="*", default=[])
    parser.add_argument(
        "--transformer",
        nargs=2,
        action="append",
        default=[],
        metavar=("K", "DIR"),
        help="transformer_oof.py's files for k = K in DIR (the first of --seeds)",
    )
    parser.add_argument(
        "--transformer-at-real-share",
        nargs=2,
        action="append",
        default=[],
        metavar=("SHARE", "DIR"),
        help="transformer_oof.py --real-share SHARE's files in DIR (4 folds, the first seed)",
    )
    args = parser.parse_args()
    if any(not 0 <= s <= 1 for s in args.real_shares + args.portal_shares):
        parser.error("a share is a fraction from 0 to 1")
    CACHE.mkdir(parents=True, exist_ok=True)
    corpus = Corpus()
    if args.folds:
        by_folds(corpus, args.folds, args.seeds)
    if args.real_shares:
        at_share = {float(share): Path(d) for share, d in args.transformer_at_real_share}
        by_share(corpus, "real", args.real_shares, args.seeds, at_share)
    if args.portal_shares:
        by_share(corpus, "portal", args.portal_shares, args.seeds)
    if args.transformer:
        runs = sorted((int(k), Path(d)) for k, d in args.transformer)
        by_transformer_folds(corpus, runs, args.seeds[0])


if __name__ == "__main__":
    main()
