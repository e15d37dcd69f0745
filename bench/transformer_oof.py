"""Out-of-fold probabilities of the fine-tuned transformer over the whole corpus, for
several seeds: the expensive half of the triage v2 evaluation (docs/triage.md).

Each (seed, fold) fine-tunes MiniLM on the other folds (as the training does: two
fine-tunes averaged, unless --soup says otherwise) and scores the held-out fold with
the exported ONNX graph, float and int8 (the heads' probabilities and the imitated
embeddings the neighbours' vote asks with); results go to var/oof/ as .npz, one file per
task, so an interrupted run resumes where it stopped. Two worker processes of one thread
each use two cores better than one process of two threads (measured: 32 against 27
rows a second).

    .venv/bin/python bench/transformer_oof.py --seeds 0 1 2 --folds 4 --workers 2
"""

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


OUT = ROOT / "var" / "oof"


def training_rows(
    real: np.ndarray, held: list[int], *, kind: str, share: float, seed: int, fold: int
) -> np.ndarray:
    """The rows outside `held`, with only `share` of one kind kept: the real questions
    (kind "real") or the portal-style rows ("portal"), drawn at random per seed and fold,
    so that every learning-curve run thins a fold alike (bench/triage_learning_curve.py)."""
    training = np.setdiff1d(np.arange(len(real)), held)
    thinned_kind = real if kind == "real" else ~real
    thinned = training[thinned_kind[training]]
    kept = np.random.default_rng([seed, fold, 100]).choice(
        thinned, round(share * len(thinned)), replace=False
    )
    return np.union1d(training[~thinned_kind[training]], kept)


def _task(
    seed: int,
    folds: int,
    fold: int,
    out: Path = OUT,
    soup: int | None = None,
    real_share: float | None = None,
) -> str:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from triage.ml.corpus import is_real_question, load_corpus
    from triage.ml.ensemble import (
        out_of_fold_path,
        save_fold_scores,
        transformer_fold_probabilities,
    )
    from triage.ml.training import stratified_folds
    from triage.ml.transformer.fine_tuning import FineTuning

    target = out_of_fold_path(out, seed=seed, folds=folds, fold=fold)
    if target.exists():
        return f"{target.name} (kept)"
    rows = load_corpus(ROOT / "triage" / "corpus")
    started = time.monotonic()
    settings = FineTuning() if soup is None else FineTuning(soup=soup)
    training = None
    if real_share is not None:
        real = np.array([is_real_question(r) for r in rows])
        held = stratified_folds(rows, folds, salt=f"oof-seed{seed}")[fold]
        training = training_rows(
            real, held, kind="real", share=real_share, seed=seed, fold=fold
        ).tolist()
    scores = transformer_fold_probabilities(
        rows, k=folds, fold=fold, seed=seed, settings=settings, training=training
    )
    save_fold_scores(target, scores)
    return f"{target.name} in {time.monotonic() - started:.0f}s"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--soup", type=int, help="fine-tunes averaged per model (default: the training's)"
    )
    parser.add_argument(
        "--only-folds",
        type=int,
        nargs="+",
        help="run these folds only (the rest later, or on another machine into the same --out)",
    )
    parser.add_argument(
        "--real-share",
        type=float,
        help="fine-tune on this share of each fold's real questions only, for the learning "
        "curve (bench/triage_learning_curve.py); give it its own --out",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    chosen = range(args.folds) if args.only_folds is None else args.only_folds
    if any(not 0 <= f < args.folds for f in chosen):
        parser.error(f"--only-folds: a fold is a number from 0 to {args.folds - 1}")
    if args.real_share is not None and not 0 <= args.real_share <= 1:
        parser.error("--real-share: a fraction from 0 to 1")
    tasks = [
        (s, args.folds, f, args.out, args.soup, args.real_share) for s in args.seeds for f in chosen
    ]
    started = time.monotonic()
    with ProcessPoolExecutor(args.workers) as pool:
        futures = [pool.submit(_task, *t) for t in tasks]
        for done, future in enumerate(futures, start=1):
            print(f"[{done}/{len(tasks)}] {future.result()}", flush=True)
    print(f"transformer_oof: {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
