"""One code path from message text to labels, used by the worker, classify_messages and
the evaluation: the model's recall-first decision, then the red-flag layer on top."""

from collections.abc import Sequence
from dataclasses import dataclass

from triage.classifier import TriageInput, TriageModel, TriagePrediction
from triage.labels import Acuity, ServiceLevel
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


# A classification's fields when the classifier failed: a message is never lost, it goes
# to nurse triage as urgent, for review.
UNCLASSIFIED_LABELS = {
    "acuity": Acuity.URGENT,
    "service_level": ServiceLevel.NURSE,
    "routing_service_level": ServiceLevel.NURSE,
    "evisit_candidate": False,
    "acuity_confidence": 0.0,
    "service_level_confidence": 0.0,
    "evisit_confidence": 0.0,
    "unclassified": True,
    "needs_review": True,
}


def classification_labels(result: TriageResult) -> dict:
    """A classification's fields (the Classification columns) from the model's result."""
    prediction = result.prediction
    return {
        "acuity": prediction.acuity,
        "service_level": prediction.service_level,
        "routing_service_level": prediction.routing_service_level or prediction.service_level,
        "evisit_candidate": prediction.evisit_candidate,
        "acuity_confidence": prediction.acuity_confidence,
        "service_level_confidence": prediction.service_level_confidence,
        "evisit_confidence": prediction.evisit_confidence,
        "model_version": result.model_version,
        "red_flags": [
            {"name": hit.name, "acuity": hit.acuity, "evidence": hit.evidence}
            for hit in result.red_flags
        ],
        "unclassified": False,
        "needs_review": prediction.needs_review,
    }
