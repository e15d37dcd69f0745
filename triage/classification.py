"""One code path from message text to labels, used by the worker, classify_messages and
the evaluation: the model's recall-first decision, then the red-flag layer on top."""

from collections.abc import Sequence
from dataclasses import dataclass

from triage.classifier import TriageInput, TriageModel, TriagePrediction
from triage.model_registry import active_model
from triage.models import ModelVersion
from triage.redflags import RedFlagHit, apply_red_flags, find_red_flags


@dataclass(frozen=True)
class TriageResult:
    prediction: TriagePrediction
    red_flags: list[RedFlagHit]
    model_version: ModelVersion | None


def classify_items(
    model: TriageModel, items: Sequence[TriageInput]
) -> list[tuple[TriagePrediction, list[RedFlagHit]]]:
    results = []
    for item, prediction in zip(items, model.predict(items), strict=True):
        hits = find_red_flags(
            subject=item.subject, body=item.body, on_chemotherapy=item.on_chemotherapy
        )
        results.append((apply_red_flags(prediction, hits), hits))
    return results


def predict_triage(
    items: Sequence[TriageInput], *, train_if_missing: bool = True
) -> list[TriageResult]:
    loaded = active_model(train_if_missing=train_if_missing)
    return [
        TriageResult(prediction, hits, loaded.version)
        for prediction, hits in classify_items(loaded.model, items)
    ]
