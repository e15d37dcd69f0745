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
    without_subject_line,
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


def _acuity_ranks(p_emergent, p_urgent_or_above, flag_rank, t_emergent, t_urgent_or_above):
    rank = np.where(
        p_emergent >= t_emergent, 0, np.where(p_urgent_or_above >= t_urgent_or_above, 1, 2)
    )
    return np.minimum(rank, flag_rank)


def _meets_recall_targets(rank: np.ndarray, gold_rank: np.ndarray) -> bool:
    emergent, urgent_or_above = gold_rank == 0, gold_rank <= 1
    if emergent.any() and (rank[emergent] == 0).mean() < EMERGENT_RECALL_TARGET:
        return False
    return not (
        urgent_or_above.any()
        and (rank[urgent_or_above] <= 1).mean() < URGENT_OR_ABOVE_RECALL_TARGET
    )


def choose_thresholds(
    probabilities: dict[str, np.ndarray],
    rows: Sequence[LabeledMessage],
    hits: Sequence[list],
    without_subject: np.ndarray,
) -> DecisionThresholds:
    """Recall-first thresholds from out-of-fold predictions, red flags included as in
    production:

    1. among the acuity threshold pairs that reach both recall targets on all rows, the
       one with the best acuity accuracy;
    2. for messages with a subject line, a pair of their own: the most accurate that
       still reaches both targets on all rows and among those messages alone. Messages
       without a subject keep pair 1, so their recall does not fall;
    3. the e-visit threshold with the best F1.
    """
    gold_rank = np.array([ACUITY_CLASSES.index(r.acuity) for r in rows])
    flag_rank = _red_flag_ranks(hits)
    p_emergent = probabilities["acuity"][:, 0]
    p_urgent_or_above = p_emergent + probabilities["acuity"][:, 1]
    grid = np.round(np.arange(0.95, 0.0, -0.01), 3)

    best = (-1.0, grid[-1], grid[-1])  # (accuracy, t_emergent, t_urgent_or_above)
    for t_e in grid:
        is_emergent = (p_emergent >= t_e) | (flag_rank == 0)
        if (gold_rank == 0).any() and is_emergent[gold_rank == 0].mean() < EMERGENT_RECALL_TARGET:
            continue
        for t_u in grid:
            rank = _acuity_ranks(p_emergent, p_urgent_or_above, flag_rank, t_e, t_u)
            if not _meets_recall_targets(rank, gold_rank):
                continue
            accuracy = float((rank == gold_rank).mean())
            if accuracy > best[0]:
                best = (accuracy, t_e, t_u)
    _, best_e, best_u = best

    with_subject = ~without_subject
    rank = _acuity_ranks(p_emergent, p_urgent_or_above, flag_rank, best_e, best_u)
    best_with = (float((rank == gold_rank).mean()), best_e, best_u)
    for t_e in grid:
        for t_u in grid:
            rank[with_subject] = _acuity_ranks(
                p_emergent[with_subject],
                p_urgent_or_above[with_subject],
                flag_rank[with_subject],
                t_e,
                t_u,
            )
            if not (
                _meets_recall_targets(rank, gold_rank)
                and _meets_recall_targets(rank[with_subject], gold_rank[with_subject])
            ):
                continue
            accuracy = float((rank == gold_rank).mean())
            if accuracy > best_with[0]:
                best_with = (accuracy, t_e, t_u)
    _, best_e_with, best_u_with = best_with

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
        emergent_with_subject=float(best_e_with),
        urgent_or_above_with_subject=float(best_u_with),
    )


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
        out_of_fold_probabilities(rows, variant, inner_folds),
        rows,
        hits,
        without_subject_line([as_input(r) for r in rows]),
    )
    return TriageModel.train(rows, variant=variant, thresholds=thresholds)
