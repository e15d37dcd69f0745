"""Out-of-fold figures over the whole corpus: every row scored by a model that never saw
it, under thresholds chosen without its label. Pure: no ORM.

The thresholds are cross-fitted: a fold's rows are decided with thresholds chosen on the
other folds' out-of-fold predictions, so no threshold is measured on the rows it was
chosen on (the acuity targets are met by missing at most one or two emergencies, and a
threshold chosen on the same rows would flatter exactly that).
"""

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import f1_score, roc_auc_score

from triage.ml.classifier import ACUITY_CLASSES, decide
from triage.ml.corpus import LabeledMessage, is_real_question
from triage.ml.redflags import apply_red_flags
from triage.ml.training import choose_thresholds
from triage.ml.types import TriagePrediction


def take(probabilities: dict[str, np.ndarray], index) -> dict[str, np.ndarray]:
    return {name: values[index] for name, values in probabilities.items()}


def cross_fitted_decisions(
    probabilities: dict[str, np.ndarray],
    rows: Sequence[LabeledMessage],
    folds: Sequence[Sequence[int]],
    hits: Sequence[list],
) -> list[TriagePrediction]:
    decided: list[TriagePrediction | None] = [None] * len(rows)
    for fold in folds:
        held = set(fold)
        others = [i for i in range(len(rows)) if i not in held]
        thresholds = choose_thresholds(
            take(probabilities, others), [rows[i] for i in others], [hits[i] for i in others]
        )
        for i, prediction in zip(
            fold, decide(take(probabilities, list(fold)), thresholds), strict=True
        ):
            decided[i] = apply_red_flags(prediction, hits[i])
    return decided


def figures(
    rows: Sequence[LabeledMessage],
    predictions: Sequence[TriagePrediction],
    probabilities: dict[str, np.ndarray],
) -> dict:
    """The issue-19 figures on these rows: urgency ranking (ROC AUC of P(urgent or
    emergent), before red flags), recalls at the operating point, share of routine rows
    flagged, accuracies and e-visit F1."""
    gold = np.array([ACUITY_CLASSES.index(r.acuity) for r in rows])
    said = np.array([ACUITY_CLASSES.index(p.acuity) for p in predictions])
    urgent_or_above = gold <= 1
    p_urgent_or_above = probabilities["acuity"][:, 0] + probabilities["acuity"][:, 1]
    gold_evisit = np.array([r.evisit_candidate for r in rows])
    said_evisit = np.array([p.evisit_candidate for p in predictions])
    routine = gold == 2
    emergent = gold == 0
    return {
        "rows": len(rows),
        "urgency_auc": float(roc_auc_score(urgent_or_above, p_urgent_or_above))
        if 0 < urgent_or_above.sum() < len(rows)
        else None,
        "acuity_accuracy": float(np.mean(said == gold)),
        "emergent_recall": float(np.mean(said[emergent] == 0)) if emergent.any() else None,
        "urgent_or_above_recall": float(np.mean(said[urgent_or_above] <= 1))
        if urgent_or_above.any()
        else None,
        "emergent_as_routine": int(np.sum(emergent & (said == 2))),
        "routine_flagged": float(np.mean(said[routine] <= 1)) if routine.any() else None,
        "service_accuracy": float(
            np.mean(
                [p.service_level == r.service_level for p, r in zip(predictions, rows, strict=True)]
            )
        ),
        "evisit_f1": float(f1_score(gold_evisit, said_evisit, zero_division=0)),
    }


def pooled_and_real(
    rows: Sequence[LabeledMessage],
    predictions: Sequence[TriagePrediction],
    probabilities: dict[str, np.ndarray],
) -> dict:
    real = [i for i, r in enumerate(rows) if is_real_question(r)]
    report = {"pooled": figures(rows, predictions, probabilities)}
    if real:
        report["real_questions"] = figures(
            [rows[i] for i in real], [predictions[i] for i in real], take(probabilities, real)
        )
    return report


def spread(values: Sequence[float]) -> dict:
    values = [v for v in values if v is not None]
    return {
        "mean": float(np.mean(values)),
        "min": float(np.min(values)),
        "max": float(np.max(values)),
        "seeds": len(values),
    }
