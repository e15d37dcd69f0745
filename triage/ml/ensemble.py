"""Triage v2: the fine-tuned transformer and the TF-IDF model averaged head by head, with
recall-first thresholds chosen on out-of-fold predictions over the whole corpus and the
red-flag layer on top (triage/decision.py). Pure: no ORM.

Serving needs onnxruntime and tokenizers only; fitting (`fit_ensemble`) needs PyTorch,
the `train` extra, and is imported lazily so a worker can load and use an ensemble
without it.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from triage.ml.classifier import (
    ACUITY_CLASSES,
    DEFAULT_VARIANT,
    DecisionThresholds,
    TriageModel,
    decide,
    empty_probabilities,
    message_text,
)
from triage.ml.corpus import LabeledMessage
from triage.ml.neighbours import DEFAULT_NEIGHBOUR_WEIGHT, NeighbourPool, blend, out_of_fold_votes
from triage.ml.out_of_fold import cross_fitted_decisions, pooled_and_real
from triage.ml.training import (
    choose_thresholds,
    out_of_fold_probabilities,
    red_flag_hits,
    stratified_folds,
)
from triage.ml.transformer.serving import SentenceEncoder, TransformerHeads
from triage.ml.types import TriageInput, TriagePrediction

ENSEMBLE_VARIANT = "minilm-finetuned-tfidf-ensemble"
HEADS = ("acuity", "service_level", "evisit_candidate")
# The transformer's share of each head's averaged probability.
DEFAULT_TRANSFORMER_WEIGHT = 0.5


class TrainingUnavailable(RuntimeError):
    pass


def require_pytorch() -> None:
    """Training the transformer needs PyTorch (the train extra); serving does not."""
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        raise TrainingUnavailable(
            "PyTorch is not installed here, and training the transformer needs it: "
            "pip install -e '.[train]' (serving it does not)."
        ) from exc


def average(
    tfidf: dict[str, np.ndarray], transformer: dict[str, np.ndarray], weights: dict[str, float]
) -> dict[str, np.ndarray]:
    return {h: weights[h] * transformer[h] + (1.0 - weights[h]) * tfidf[h] for h in HEADS}


@dataclass
class NeighbourVote:
    """The third member: the vote of the labelled messages nearest to a message by
    pretrained MiniLM's embedding (triage/ml/neighbours.py). The message's embedding is
    the fine-tuned transformer's imitation of it, from the same run of the graph as its
    heads; versions trained with the vote before 2026-12-06's third change carry a
    second graph, `encoder`, for it instead."""

    pool: NeighbourPool
    # The thresholds the two models would have alone (chosen on their out-of-fold
    # average): where they call a message more acute than the ensemble with the vote
    # does, theirs stands (`more_acute_of`).
    pair_thresholds: DecisionThresholds
    weight: float = DEFAULT_NEIGHBOUR_WEIGHT
    encoder: SentenceEncoder | None = None

    def probabilities(
        self, texts: Sequence[str], imitation: np.ndarray | None
    ) -> dict[str, np.ndarray]:
        if self.encoder is not None:
            return self.pool.vote(self.encoder.embeddings(texts))
        if imitation is None:
            raise ValueError("this transformer's graph gives no embedding for the vote")
        return self.pool.vote(imitation)


def more_acute_of(
    decided: Sequence[TriagePrediction], floor: Sequence[TriagePrediction]
) -> list[TriagePrediction]:
    """Message by message, the floor's decision where it calls the message more acute.
    The vote ranks urgency better, but it moved a borderline emergency (a child's
    haemoglobin of 4.5) from urgent to routine; labels.md says choose the higher level
    when in doubt, and two models that disagree are a doubt."""
    return [
        f if ACUITY_CLASSES.index(f.acuity) < ACUITY_CLASSES.index(d.acuity) else d
        for d, f in zip(decided, floor, strict=True)
    ]


@dataclass
class EnsembleModel:
    """Same interface as TriageModel (probabilities, predict), so the worker, the batch
    classifier, the evaluation and the benchmark use either without knowing which."""

    tfidf: TriageModel
    transformer: TransformerHeads
    thresholds: DecisionThresholds
    weights: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(HEADS, DEFAULT_TRANSFORMER_WEIGHT)
    )
    variant: str = ENSEMBLE_VARIANT
    # The TF-IDF model averaged with the transformer: fit on the corpus and the
    # training-only rows. `tfidf`, fit on the corpus alone with its own thresholds, is
    # the fast path and the fallback. None in versions from before 2026-12-06, which
    # average `tfidf`.
    tfidf_half: TriageModel | None = None
    # None in versions from before 2026-12-06's second change, which average the two.
    neighbours: NeighbourVote | None = None

    def probabilities(self, items: Sequence[TriageInput]) -> dict[str, np.ndarray]:
        return self._pair_and_blend(items)[1]

    def predict(self, items: Sequence[TriageInput]) -> list[TriagePrediction]:
        if not items:
            return []
        pair, blended = self._pair_and_blend(items)
        if self.neighbours is None:
            return decide(pair, self.thresholds)
        return more_acute_of(
            decide(blended, self.thresholds), decide(pair, self.neighbours.pair_thresholds)
        )

    def _pair_and_blend(self, items: Sequence[TriageInput]):
        """The transformer and TF-IDF averaged, and that with the neighbours' vote blended
        in (the same when the version has no vote)."""
        texts = [message_text(i.subject, i.body) for i in items]
        tfidf = self.tfidf_half or self.tfidf
        transformer, imitation = self.transformer.probabilities_and_imitation(texts)
        pair = average(tfidf.probabilities(items), transformer, self.weights)
        if self.neighbours is None:
            return pair, pair
        votes = self.neighbours.probabilities(texts, imitation)
        return pair, blend(pair, votes, self.neighbours.weight)


def _texts(rows: Sequence[LabeledMessage]) -> list[str]:
    return [message_text(r.subject, r.body) for r in rows]


def _training_texts(rows: Sequence[LabeledMessage]):
    from triage.ml.transformer.fine_tuning import TrainingText

    return [
        TrainingText(message_text(r.subject, r.body), r.acuity, r.service_level, r.evisit_candidate)
        for r in rows
    ]


@dataclass(frozen=True)
class FoldScores:
    """A held-out fold scored by the exported graph, by kind ("float" or "int8" ONNX)."""

    held: list[int]
    probabilities: dict[str, dict[str, np.ndarray]]
    imitations: dict[str, np.ndarray]


def transformer_fold_probabilities(
    rows: Sequence[LabeledMessage],
    *,
    k: int,
    fold: int,
    seed: int,
    settings=None,
    progress: Callable[[int, int], None] | None = None,
    training: Sequence[int] | None = None,
) -> FoldScores:
    """Fine-tune on every fold but `fold` (or on the rows `training` names, which must
    leave that fold out) and score that fold with the exported graph, float and int8: the
    heads' probabilities and the imitated embeddings."""
    from triage.ml.transformer.fine_tuning import fine_tune, to_serving

    held = stratified_folds(rows, k, salt=f"oof-seed{seed}")[fold]
    held_set = set(held)
    if training is None:
        train = [r for i, r in enumerate(rows) if i not in held_set]
    elif held_set.intersection(training):
        raise ValueError("the rows to fine-tune on include some of the fold they score")
    else:
        train = [rows[i] for i in training]
    model = fine_tune(_training_texts(train), seed=seed, settings=settings, progress=progress)
    texts = [message_text(rows[i].subject, rows[i].body) for i in held]
    probabilities, imitations = {}, {}
    for kind, quantize in (("float", False), ("int8", True)):
        heads = to_serving(model, quantize=quantize)
        probabilities[kind], imitations[kind] = heads.probabilities_and_imitation(texts)
    return FoldScores(held, probabilities, imitations)


@dataclass(frozen=True)
class EnsembleFit:
    model: EnsembleModel
    # Out-of-fold figures of the fit's own seed (cross-fitted thresholds), for the
    # model version's record; the thresholds the model uses are chosen on all rows.
    out_of_fold: dict


def fit_ensemble(
    rows: Sequence[LabeledMessage],
    *,
    k: int = 4,
    seed: int = 0,
    settings=None,
    quantize: bool = True,
    weights: dict[str, float] | None = None,
    transformer_out_of_fold: dict[str, np.ndarray] | None = None,
    imitation_out_of_fold: np.ndarray | None = None,
    training_only: Sequence[LabeledMessage] = (),
    neighbour_weight: float = DEFAULT_NEIGHBOUR_WEIGHT,
    progress: Callable[[int, int, str], None] | None = None,
) -> EnsembleFit:
    """Fit the ensemble: k fine-tunes for the transformer's out-of-fold probabilities and
    imitated embeddings (skipped when `transformer_out_of_fold` and
    `imitation_out_of_fold` are given, computed on the same folds), the
    TF-IDF model's on the same folds, thresholds chosen on their average over the whole
    corpus, then both models fit on every row. `progress(step, total, what)`.

    `training_only` rows (the written questions, load_training_only_rows) join the
    training of the averaged TF-IDF half only, in every fold and at the end: they are
    never scored, so no threshold and no figure sees them, and neither the transformer
    nor the fast path's TF-IDF model learns from them. They also vote in the
    neighbours' vote, which has `neighbour_weight` of every head (0: no vote, the
    ensemble as before)."""
    from triage.ml.transformer.fine_tuning import fine_tune, pretrained_embeddings, to_serving

    tell = progress or (lambda step, total, what: None)
    weights = weights or dict.fromkeys(HEADS, DEFAULT_TRANSFORMER_WEIGHT)
    total = (0 if transformer_out_of_fold is not None else k) + 3 + (1 if neighbour_weight else 0)
    step = 0
    salt = f"oof-seed{seed}"
    folds = stratified_folds(rows, k, salt=salt)
    if transformer_out_of_fold is not None and neighbour_weight and imitation_out_of_fold is None:
        raise ValueError(
            "the reused out-of-fold results have no imitated embeddings, which the "
            "neighbours' vote needs: run bench/transformer_oof.py again, or train without it"
        )
    if transformer_out_of_fold is None:
        transformer_out_of_fold = empty_probabilities(len(rows))
        imitation_out_of_fold = None
        kind = "int8" if quantize else "float"
        for fold_number in range(k):
            what = f"fine-tuning MiniLM without fold {fold_number + 1} of {k}"
            tell(step, total, what)
            scores = transformer_fold_probabilities(
                rows,
                k=k,
                fold=fold_number,
                seed=seed,
                settings=settings,
                progress=_steps_of(tell, step, total, what),
            )
            for head, values in scores.probabilities[kind].items():
                transformer_out_of_fold[head][scores.held] = values
            imitation = scores.imitations[kind]
            if imitation_out_of_fold is None:
                imitation_out_of_fold = np.zeros((len(rows), imitation.shape[1]), np.float32)
            imitation_out_of_fold[scores.held] = imitation
            step += 1
    tell(step, total, f"TF-IDF on the same {k} folds")
    tfidf_out_of_fold = out_of_fold_probabilities(rows, DEFAULT_VARIANT, k, salt=salt)
    half_out_of_fold = (
        out_of_fold_probabilities(rows, DEFAULT_VARIANT, k, salt=salt, training_only=training_only)
        if training_only
        else tfidf_out_of_fold
    )
    averaged = average(half_out_of_fold, transformer_out_of_fold, weights)
    hits = red_flag_hits(rows)
    step += 1
    neighbours = votes = None
    if neighbour_weight:
        tell(step, total, f"MiniLM's embeddings of {len(rows) + len(training_only)} messages")
        pool = NeighbourPool.of(rows, pretrained_embeddings(_texts(rows)))
        written = (
            NeighbourPool.of(training_only, pretrained_embeddings(_texts(training_only)))
            if training_only
            else None
        )
        # Each held-out message asks with the imitation its fold's transformer made of
        # its embedding, as a served message will.
        votes = out_of_fold_votes(pool, folds, written, queries=imitation_out_of_fold)
        neighbours = NeighbourVote(
            pool.joined(written) if written else pool,
            pair_thresholds=choose_thresholds(averaged, rows, hits),
            weight=neighbour_weight,
        )
        step += 1
    decided, averaged = cross_fitted_ensemble(averaged, votes, neighbour_weight, rows, folds, hits)
    thresholds = choose_thresholds(averaged, rows, hits)
    report = pooled_and_real(rows, decided, averaged)
    tell(step, total, f"fitting TF-IDF on all {len(rows)} messages")
    tfidf = TriageModel.train(
        rows,
        variant=DEFAULT_VARIANT,
        thresholds=choose_thresholds(tfidf_out_of_fold, rows, hits),
    )
    tfidf_half = (
        TriageModel.train([*rows, *training_only], variant=DEFAULT_VARIANT)
        if training_only
        else None
    )
    step += 1
    what = f"fine-tuning MiniLM on all {len(rows)} messages"
    tell(step, total, what)
    network = fine_tune(
        _training_texts(rows),
        seed=seed,
        settings=settings,
        progress=_steps_of(tell, step, total, what),
    )
    transformer = to_serving(network, quantize=quantize)
    tell(total, total, "done")
    return EnsembleFit(
        EnsembleModel(
            tfidf, transformer, thresholds, weights, tfidf_half=tfidf_half, neighbours=neighbours
        ),
        report,
    )


def _steps_of(
    tell: Callable[[int, int, str], None], step: int, total: int, what: str
) -> Callable[[int, int], None]:
    """A fine-tune's own optimizer steps, told as part of the fit's current step: the
    fine-tunes are most of a fit's hour, and a bar that stands still that long looks hung.
    Told at each whole percent, not each update: the admin's training writes it to a row."""

    def told(done: int, steps: int) -> None:
        if done == steps or done * 100 // steps != (done - 1) * 100 // steps:
            tell(step, total, f"{what}: {done} of {steps} updates")

    return told


def cross_fitted_ensemble(
    pair: dict[str, np.ndarray],
    votes: dict[str, np.ndarray] | None,
    weight: float,
    rows: Sequence[LabeledMessage],
    folds: Sequence[Sequence[int]],
    hits: Sequence[list],
) -> tuple[list[TriagePrediction], dict[str, np.ndarray]]:
    """The ensemble's out-of-fold decisions, each fold decided with thresholds chosen on
    the others, as served: the pair's decision is the floor when there is a vote. Returns
    them and the probabilities they rank by."""
    pair_decided = cross_fitted_decisions(pair, rows, folds, hits)
    if votes is None or not weight:
        return pair_decided, pair
    blended = blend(pair, votes, weight)
    decided = cross_fitted_decisions(blended, rows, folds, hits)
    return more_acute_of(decided, pair_decided), blended


def out_of_fold_path(directory: Path, *, seed: int, folds: int, fold: int) -> Path:
    return directory / f"transformer-k{folds}-seed{seed}-fold{fold}.npz"


def save_fold_scores(path: Path, scores: FoldScores) -> None:
    """One fold's scores in the file the readers below take (bench/transformer_oof.py)."""
    np.savez(
        path,
        held=np.array(scores.held),
        **{
            f"{kind}_{head}": values
            for kind, heads in scores.probabilities.items()
            for head, values in heads.items()
        },
        **{f"{kind}_imitation": values for kind, values in scores.imitations.items()},
    )


def read_transformer_out_of_fold(
    directory: Path, *, seed: int, folds: int, rows: int, kind: str = "int8"
) -> dict[str, np.ndarray] | None:
    """The transformer's out-of-fold probabilities saved by bench/transformer_oof.py, one
    file per fold (`kind`: "float" or "int8" ONNX); None when a fold is missing."""
    files = _fold_files(directory, seed=seed, folds=folds)
    if files is None:
        return None
    out = empty_probabilities(rows)
    for data in files:
        for head in HEADS:
            out[head][data["held"]] = data[f"{kind}_{head}"]
    return out


def read_imitation_out_of_fold(
    directory: Path, *, seed: int, folds: int, rows: int, kind: str = "int8"
) -> np.ndarray | None:
    """The imitated embeddings saved beside them; None when a fold is missing or was
    saved before the transformer imitated pretrained MiniLM."""
    files = _fold_files(directory, seed=seed, folds=folds)
    if files is None or any(f"{kind}_imitation" not in data for data in files):
        return None
    out = np.zeros((rows, files[0][f"{kind}_imitation"].shape[1]), dtype=np.float32)
    for data in files:
        out[data["held"]] = data[f"{kind}_imitation"]
    return out


def _fold_files(directory: Path, *, seed: int, folds: int) -> list | None:
    paths = [out_of_fold_path(directory, seed=seed, folds=folds, fold=f) for f in range(folds)]
    if not all(p.exists() for p in paths):
        return None
    return [np.load(p) for p in paths]
