"""Honest evaluation of the triage classifier. Pure: no ORM.

- a stratified, deterministic held-out split (by a hash of each id), never used for
  fitting or for choosing thresholds;
- recall-first acuity thresholds chosen on out-of-fold predictions of the training part;
- 5-fold cross-validation with thresholds chosen inside each fold;
- baselines: red flags alone, and the patient-chosen category.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from triage.ml.agreement import LABELS, first_pass_labels
from triage.ml.classifier import ACUITY_CLASSES, SERVICE_LEVEL_CLASSES, TriageModel
from triage.ml.corpus import LabeledMessage, is_real_question
from triage.ml.decision import classify_items
from triage.ml.labels import Acuity
from triage.ml.redflags import find_red_flags, red_flag_acuity
from triage.ml.training import as_input, fit_model, stable_key, stratified_folds, stratum


def holdout_split(
    rows: Sequence[LabeledMessage], fraction: float = 0.2, salt: str = "holdout-v1"
) -> tuple[list[LabeledMessage], list[LabeledMessage]]:
    """Stratified by acuity x service level; the same corpus always gives the same split."""
    strata = defaultdict(list)
    for row in rows:
        strata[stratum(row)].append(row)
    train, test = [], []
    for members in strata.values():
        members = sorted(members, key=lambda r: stable_key(salt, r.id))
        cut = round(len(members) * fraction)
        test.extend(members[:cut])
        train.extend(members[cut:])
    return train, test


@dataclass(frozen=True)
class LabelReport:
    accuracy: float
    macro_f1: float
    per_class: dict[str, dict[str, float]]
    confusion: list[list[int]]
    classes: list[str]

    def as_dict(self) -> dict:
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "per_class": self.per_class,
            "classes": self.classes,
            "confusion": self.confusion,
        }


def label_report(gold: Sequence, predicted: Sequence, classes: list) -> LabelReport:
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, predicted, labels=classes, zero_division=0
    )
    return LabelReport(
        accuracy=float(np.mean(np.array(gold) == np.array(predicted))),
        macro_f1=float(np.mean(f1)),
        per_class={
            str(c): {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, c in enumerate(classes)
        },
        confusion=confusion_matrix(gold, predicted, labels=classes).tolist(),
        classes=[str(c) for c in classes],
    )


def score(rows: Sequence[LabeledMessage], acuity, service_level, evisit) -> dict:
    gold_acuity = [r.acuity for r in rows]
    emergent = [p for g, p in zip(gold_acuity, acuity, strict=True) if g == "emergent"]
    urgent_or_above = [p for g, p in zip(gold_acuity, acuity, strict=True) if g != "routine"]
    report = {
        "rows": len(rows),
        "acuity": label_report(gold_acuity, acuity, ACUITY_CLASSES).as_dict(),
        "emergent_recall": float(np.mean([p == "emergent" for p in emergent]))
        if emergent
        else None,
        "urgent_or_above_recall": (
            float(np.mean([p != "routine" for p in urgent_or_above])) if urgent_or_above else None
        ),
        "emergent_predicted_routine": sum(p == "routine" for p in emergent),
    }
    if service_level is not None:
        report["service_level"] = label_report(
            [r.service_level for r in rows], service_level, SERVICE_LEVEL_CLASSES
        ).as_dict()
    if evisit is not None:
        gold = [r.evisit_candidate for r in rows]
        report["evisit_candidate"] = label_report(gold, evisit, [True, False]).as_dict()
        report["evisit_f1"] = float(f1_score(gold, evisit, zero_division=0))
    return report


def with_real_questions(report: dict, rows: Sequence[LabeledMessage], acuity, level, evisit):
    """The same scores on the real patients' questions alone: the held-back evaluation
    set is real messages, and they are where the model is weakest."""
    real = [i for i, r in enumerate(rows) if is_real_question(r)]
    if real and len(real) < len(rows):
        report["real_questions"] = score(
            [rows[i] for i in real],
            [acuity[i] for i in real],
            [level[i] for i in real] if level is not None else None,
            [evisit[i] for i in real] if evisit is not None else None,
        )
    return report


def evaluate_model(model: TriageModel, rows: Sequence[LabeledMessage]) -> dict:
    results = classify_items(model, [as_input(r) for r in rows])
    predictions = [p for p, _ in results]
    labels = (
        [p.acuity for p in predictions],
        [p.service_level for p in predictions],
        [p.evisit_candidate for p in predictions],
    )
    report = with_real_questions(score(rows, *labels), rows, *labels)
    report["needs_review_share"] = float(np.mean([p.needs_review for p in predictions]))
    report["errors"] = [
        {
            "id": r.id,
            "gold": [r.acuity, r.service_level, r.evisit_candidate],
            "predicted": [p.acuity, p.service_level, p.evisit_candidate],
        }
        for r, p in zip(rows, predictions, strict=True)
        if (r.acuity, r.service_level, r.evisit_candidate)
        != (p.acuity, p.service_level, p.evisit_candidate)
    ]
    return report


def cross_validate(rows: Sequence[LabeledMessage], variant: str, k: int = 5) -> dict:
    """k-fold CV with thresholds chosen inside each fold's training part; pooled scores."""
    acuity: list[str] = [""] * len(rows)
    level: list[str] = [""] * len(rows)
    evisit: list[bool] = [False] * len(rows)
    for fold in stratified_folds(rows, k):
        held = set(fold)
        model = fit_model([r for i, r in enumerate(rows) if i not in held], variant)
        test_rows = [rows[i] for i in fold]
        for i, (prediction, _) in zip(
            fold, classify_items(model, [as_input(r) for r in test_rows]), strict=True
        ):
            acuity[i], level[i], evisit[i] = (
                prediction.acuity,
                prediction.service_level,
                prediction.evisit_candidate,
            )
    return with_real_questions(score(rows, acuity, level, evisit), rows, acuity, level, evisit)


def red_flags_alone(rows: Sequence[LabeledMessage]) -> dict:
    acuity = [
        red_flag_acuity(
            find_red_flags(subject=r.subject, body=r.body, on_chemotherapy=r.on_chemotherapy)
        )
        or Acuity.ROUTINE.value
        for r in rows
    ]
    return with_real_questions(score(rows, acuity, None, None), rows, acuity, None, None)


# What a clinic inbox does with the category the patient picked (the legacy routing).
CATEGORY_ROUTING = {
    "urgent": ("urgent", "nurse"),
    "medical question": ("routine", "nurse"),
    "test results": ("routine", "nurse"),
    "medication refill": ("routine", "ma"),
    "forms": ("routine", "ma"),
    "appointment": ("routine", "clerical"),
    "billing": ("routine", "clerical"),
    "other": ("routine", "clerical"),
}


def patient_category_baseline(rows: Sequence[LabeledMessage]) -> dict | None:
    with_category = [r for r in rows if r.category in CATEGORY_ROUTING]
    if not with_category:
        return None
    routed = [CATEGORY_ROUTING[r.category] for r in with_category]
    return score(with_category, [a for a, _ in routed], [s for _, s in routed], None)


def annotator_against_annotator(
    rows: Sequence[LabeledMessage], second: dict[str, dict], first_overrides: dict[str, dict]
) -> dict:
    """Each independent labeling pass scored as if it were a model, against the other
    pass as gold: what one careful human reaches on the same messages, for reading the
    model's figures. Rows without a second pass are left out."""
    first_rows, second_rows = [], []
    for row in rows:
        if row.id not in second:
            continue
        first_rows.append(replace(row, **first_pass_labels(row, first_overrides)))
        second_rows.append(replace(row, **{k: second[row.id][k] for k in LABELS}))
    if not first_rows:
        return {}

    def scored(gold, other):
        return score(
            gold,
            [r.acuity for r in other],
            [r.service_level for r in other],
            [r.evisit_candidate for r in other],
        )

    return {
        "second_against_first": scored(first_rows, second_rows),
        "first_against_second": scored(second_rows, first_rows),
    }
