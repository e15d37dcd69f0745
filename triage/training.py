"""Fitting the triage model with recall-first thresholds. Pure: no ORM.

Thresholds are chosen on out-of-fold predictions of the rows being fit, red flags
included, so no threshold ever sees the data it is measured on.
"""

import hashlib
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import f1_score

from triage.classifier import (
    ACUITY_CLASSES,
    SERVICE_LEVEL_CLASSES,
    DecisionThresholds,
    TriageInput,
    TriageModel,
)
from triage.corpus import LabeledMessage
from triage.labels import Acuity
from triage.redflags import find_red_flags, red_flag_acuity

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


def _red_flag_ranks(hits: Sequence[list]) -> np.ndarray:
    """Per row, the acuity rank the red flags demand (routine's rank when none)."""
    return np.array(
        [ACUITY_CLASSES.index(red_flag_acuity(row_hits) or Acuity.ROUTINE) for row_hits in hits]
    )


def choose_thresholds(
    probabilities: dict[str, np.ndarray],
    rows: Sequence[LabeledMessage],
    hits: Sequence[list],
) -> DecisionThresholds:
    """Among the threshold pairs that reach both recall targets on out-of-fold
    predictions (red flags included, as in production), the one with the best acuity
    accuracy; then the e-visit threshold with the best F1."""
    gold_rank = np.array([ACUITY_CLASSES.index(r.acuity) for r in rows])
    emergent, urgent_or_above = gold_rank == 0, gold_rank <= 1
    flag_rank = _red_flag_ranks(hits)
    p_emergent = probabilities["acuity"][:, 0]
    p_urgent_or_above = p_emergent + probabilities["acuity"][:, 1]
    grid = np.round(np.arange(0.95, 0.0, -0.01), 3)

    best = (-1.0, grid[-1], grid[-1])  # (accuracy, t_emergent, t_urgent_or_above)
    for t_e in grid:
        is_emergent = (p_emergent >= t_e) | (flag_rank == 0)
        if emergent.any() and is_emergent[emergent].mean() < EMERGENT_RECALL_TARGET:
            continue
        for t_u in grid:
            rank = np.where(p_emergent >= t_e, 0, np.where(p_urgent_or_above >= t_u, 1, 2))
            rank = np.minimum(rank, flag_rank)
            if (
                urgent_or_above.any()
                and (rank[urgent_or_above] <= 1).mean() < URGENT_OR_ABOVE_RECALL_TARGET
            ):
                continue
            accuracy = float((rank == gold_rank).mean())
            if accuracy > best[0]:
                best = (accuracy, t_e, t_u)
    _, best_e, best_u = best

    gold_evisit = np.array([r.evisit_candidate for r in rows])
    best_v, best_f1 = 0.5, -1.0
    for t_v in np.round(np.arange(0.2, 0.81, 0.05), 3):
        f1 = f1_score(gold_evisit, probabilities["evisit_candidate"] >= t_v, zero_division=0)
        if f1 > best_f1:
            best_v, best_f1 = float(t_v), f1
    return DecisionThresholds(emergent=float(best_e), urgent_or_above=float(best_u), evisit=best_v)


def out_of_fold_probabilities(
    rows: Sequence[LabeledMessage], variant: str, k: int
) -> dict[str, np.ndarray]:
    inputs = [as_input(r) for r in rows]
    result = {
        "acuity": np.zeros((len(rows), len(ACUITY_CLASSES))),
        "service_level": np.zeros((len(rows), len(SERVICE_LEVEL_CLASSES))),
        "evisit_candidate": np.zeros(len(rows)),
    }
    for fold in stratified_folds(rows, k, salt="inner-v1"):
        held = set(fold)
        model = TriageModel.train([r for i, r in enumerate(rows) if i not in held], variant=variant)
        probabilities = model.probabilities([inputs[i] for i in fold])
        for name, values in probabilities.items():
            result[name][fold] = values
    return result


def fit_model(rows: Sequence[LabeledMessage], variant: str, inner_folds: int = 3) -> TriageModel:
    """Thresholds from out-of-fold predictions on `rows`, then a model fit on all of them."""
    hits = [
        find_red_flags(subject=r.subject, body=r.body, on_chemotherapy=r.on_chemotherapy)
        for r in rows
    ]
    thresholds = choose_thresholds(
        out_of_fold_probabilities(rows, variant, inner_folds), rows, hits
    )
    return TriageModel.train(rows, variant=variant, thresholds=thresholds)
