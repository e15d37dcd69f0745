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
    decide,
)
from triage.corpus import LabeledMessage
from triage.redflags import apply_red_flags, find_red_flags

# The acceptance targets, reached on out-of-fold predictions of the training rows.
EMERGENT_RECALL_TARGET = 0.98
URGENT_OR_ABOVE_RECALL_TARGET = 0.97


def _stable_key(salt: str, row_id: str) -> str:
    return hashlib.sha256(f"{salt}:{row_id}".encode()).hexdigest()


def _stratum(row: LabeledMessage) -> tuple[str, str]:
    return (row.acuity, row.service_level)


def _stratum(row: LabeledMessage) -> tuple[str, str]:
    return (row.acuity, row.service_level)


def stratified_folds(
    rows: Sequence[LabeledMessage], k: int, salt: str = "folds-v1"
) -> list[list[int]]:
    strata = defaultdict(list)
    for index, row in enumerate(rows):
        strata[_stratum(row)].append(index)
    folds: list[list[int]] = [[] for _ in range(k)]
    position = 0
    for key in sorted(strata):
        for index in sorted(strata[key], key=lambda i: _stable_key(salt, rows[i].id)):
            folds[position % k].append(index)
            position += 1
    return folds


def as_input(row: LabeledMessage) -> TriageInput:
    return TriageInput(subject=row.subject, body=row.body, on_chemotherapy=row.on_chemotherapy)


def _final_acuity(probabilities, rows, thresholds, hits) -> list[str]:
    return [
        apply_red_flags(p, h).acuity
        for p, h in zip(decide(probabilities, thresholds), hits, strict=True)
    ]


def choose_thresholds(
    probabilities: dict[str, np.ndarray],
    rows: Sequence[LabeledMessage],
    hits: Sequence[list],
) -> DecisionThresholds:
    """The highest thresholds (fewest over-triaged messages) that still reach the recall
    targets on out-of-fold predictions, red flags included; then the e-visit threshold
    with the best F1."""
    gold = np.array([r.acuity for r in rows])
    emergent = gold == "emergent"
    urgent_or_above = gold != "routine"
    grid = np.round(np.arange(0.95, 0.04, -0.025), 3)

    best_e = grid[-1]
    for t_e in grid:
        predicted = np.array(
            _final_acuity(
                probabilities, rows, DecisionThresholds(emergent=t_e, urgent_or_above=1.1), hits
            )
        )
        if (
            not emergent.any()
            or (predicted[emergent] == "emergent").mean() >= EMERGENT_RECALL_TARGET
        ):
            best_e = t_e
            break
    best_u = grid[-1]
    for t_u in grid:
        predicted = np.array(
            _final_acuity(
                probabilities, rows, DecisionThresholds(emergent=best_e, urgent_or_above=t_u), hits
            )
        )
        if (predicted[urgent_or_above] != "routine").mean() >= URGENT_OR_ABOVE_RECALL_TARGET:
            best_u = t_u
            break

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
