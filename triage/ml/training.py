"""Fitting the triage model with recall-first thresholds. Pure: no ORM.

Thresholds are chosen on out-of-fold predictions of the rows being fit, red flags
included, so no threshold ever sees the data it is measured on.
"""

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import f1_score

from triage.ml.classifier import (
    ACUITY_CLASSES,
    DecisionThresholds,
    TriageInput,
    TriageModel,
    empty_probabilities,
)
from triage.ml.corpus import LabeledMessage
from triage.ml.labels import Acuity
from triage.ml.redflags import find_red_flags, red_flag_acuity

# The acceptance targets, reached on out-of-fold predictions of the training rows.
EMERGENT_RECALL_TARGET = 0.98
URGENT_OR_ABOVE_RECALL_TARGET = 0.97


def stable_key(salt: str, row_id: str) -> str:
    return hashlib.sha256(f"{salt}:{row_id}".encode()).hexdigest()


def stratum(row: LabeledMessage) -> tuple[str, str]:
    return (row.acuity, row.service_level)


def stratified_folds(
    rows: Sequence[LabeledMessage], k: int, salt: str = "folds-v1"
) -> list[list[int]]:
    strata = defaultdict(list)
    for index, row in enumerate(rows):
        strata[stratum(row)].append(index)
    folds: list[list[int]] = [[] for _ in range(k)]
    position = 0
    for key in sorted(strata):
        for index in sorted(strata[key], key=lambda i: stable_key(salt, rows[i].id)):
            folds[position % k].append(index)
            position += 1
    return folds


def as_input(row: LabeledMessage) -> TriageInput:
    return TriageInput(subject=row.subject, body=row.body, on_chemotherapy=row.on_chemotherapy)


def red_flag_ranks(hits: Sequence[list]) -> np.ndarray:
    """Per row, the acuity rank the red flags demand (routine's rank when none)."""
    return np.array(
        [ACUITY_CLASSES.index(red_flag_acuity(row_hits) or Acuity.ROUTINE) for row_hits in hits]
    )


ACUITY_THRESHOLD_GRID = np.round(np.arange(0.95, 0.0, -0.01), 3)


@dataclass(frozen=True)
class PairScores:
    """Every (emergent, urgent-or-above) threshold pair of the grid, scored on some rows:
    emergencies and urgent-or-above messages missed, and acuities right."""

    pairs: np.ndarray  # (pairs, 2), highest thresholds first
    missed_emergent: np.ndarray
    missed_urgent_or_above: np.ndarray
    correct: np.ndarray


def score_pairs(
    p_emergent: np.ndarray, p_urgent_or_above: np.ndarray, flag_rank: np.ndarray, gold_rank
) -> PairScores:
    emergent, urgent_or_above = gold_rank == 0, gold_rank <= 1
    pairs, missed_e, missed_u, correct = [], [], [], []
    for t_e in ACUITY_THRESHOLD_GRID:
        for t_u in ACUITY_THRESHOLD_GRID:
            rank = np.where(p_emergent >= t_e, 0, np.where(p_urgent_or_above >= t_u, 1, 2))
            rank = np.minimum(rank, flag_rank)
            pairs.append((t_e, t_u))
            missed_e.append(int(np.sum(emergent & (rank != 0))))
            missed_u.append(int(np.sum(urgent_or_above & (rank > 1))))
            correct.append(int(np.sum(rank == gold_rank)))
    return PairScores(np.array(pairs), np.array(missed_e), np.array(missed_u), np.array(correct))


def allowed_misses(gold_rank: np.ndarray) -> tuple[int, int]:
    """The most emergencies and urgent-or-above messages that may be missed while both
    recalls stay at their targets."""

    def most(n: int, target: float) -> int:
        return max(m for m in range(n + 1) if n == 0 or (n - m) / n >= target)

    return (
        most(int(np.sum(gold_rank == 0)), EMERGENT_RECALL_TARGET),
        most(int(np.sum(gold_rank <= 1)), URGENT_OR_ABOVE_RECALL_TARGET),
    )


def choose_acuity_pair(
    p_emergent: np.ndarray,
    p_urgent_or_above: np.ndarray,
    flag_rank: np.ndarray,
    gold_rank: np.ndarray,
) -> tuple[float, float]:
    """The most accurate (emergent, urgent-or-above) pair that reaches both recall targets
    on these rows, red flags included; the grid's lowest pair when none does (recall
    first: then as much as possible is flagged)."""
    grid_end = float(ACUITY_THRESHOLD_GRID[-1])
    scores = score_pairs(p_emergent, p_urgent_or_above, flag_rank, gold_rank)
    allowed_e, allowed_u = allowed_misses(gold_rank)
    feasible = (scores.missed_emergent <= allowed_e) & (scores.missed_urgent_or_above <= allowed_u)
    if not feasible.any():
        return grid_end, grid_end
    best = int(np.argmax(np.where(feasible, scores.correct, -1)))
    return float(scores.pairs[best][0]), float(scores.pairs[best][1])


def choose_thresholds(
    probabilities: dict[str, np.ndarray],
    rows: Sequence[LabeledMessage],
    hits: Sequence[list],
) -> DecisionThresholds:
    """Recall-first thresholds from out-of-fold predictions, red flags included as in
    production: the acuity pair of `choose_acuity_pair`, then the e-visit threshold with
    the best F1."""
    gold_rank = np.array([ACUITY_CLASSES.index(r.acuity) for r in rows])
    p_emergent = probabilities["acuity"][:, 0]
    p_urgent_or_above = p_emergent + probabilities["acuity"][:, 1]
    best_e, best_u = choose_acuity_pair(
        p_emergent, p_urgent_or_above, red_flag_ranks(hits), gold_rank
    )

    gold_evisit = np.array([r.evisit_candidate for r in rows])
    best_v, best_f1 = 0.5, -1.0
    for t_v in np.round(np.arange(0.2, 0.81, 0.05), 3):
        f1 = f1_score(gold_evisit, probabilities["evisit_candidate"] >= t_v, zero_division=0)
        if f1 > best_f1:
            best_v, best_f1 = float(t_v), f1
    return DecisionThresholds(
        emergent=float(best_e),
        urgent_or_above=float(best_u),
        evisit=best_v,
    )


def out_of_fold_probabilities(
    rows: Sequence[LabeledMessage],
    variant: str,
    k: int,
    salt: str = "inner-v1",
    *,
    training_only: Sequence[LabeledMessage] = (),
) -> dict[str, np.ndarray]:
    """Every row of `rows` scored by a model fit on the other folds; `training_only` rows
    join every fold's training part and are never scored themselves."""
    inputs = [as_input(r) for r in rows]
    result = empty_probabilities(len(rows))
    for fold in stratified_folds(rows, k, salt=salt):
        held = set(fold)
        model = TriageModel.train(
            [r for i, r in enumerate(rows) if i not in held] + list(training_only),
            variant=variant,
        )
        probabilities = model.probabilities([inputs[i] for i in fold])
        for name, values in probabilities.items():
            result[name][fold] = values
    return result


def red_flag_hits(rows: Sequence[LabeledMessage]) -> list[list]:
    return [
        find_red_flags(subject=r.subject, body=r.body, on_chemotherapy=r.on_chemotherapy)
        for r in rows
    ]


def fit_model(rows: Sequence[LabeledMessage], variant: str, inner_folds: int = 3) -> TriageModel:
    """Thresholds from out-of-fold predictions on `rows`, then a model fit on all of them."""
    thresholds = choose_thresholds(
        out_of_fold_probabilities(rows, variant, inner_folds), rows, red_flag_hits(rows)
    )
    return TriageModel.train(rows, variant=variant, thresholds=thresholds)
