"""One code path from message text to labels, used by the worker, classify_messages and
the evaluation: the model's recall-first decision, then the red-flag layer on top."""

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import DatabaseError

from accounts.models import Clinic
from triage.ml.classifier import TriageInput, TriagePrediction
from triage.ml.decision import classify_items
from triage.ml.ensemble import EnsembleModel
from triage.ml.labels import Acuity, ServiceLevel
from triage.ml.redflags import RedFlagHit
from triage.model_registry import NoActiveModel, active_model, fast_path
from triage.models import ModelVersion

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TriageResult:
    prediction: TriagePrediction
    red_flags: list[RedFlagHit]
    model_version: ModelVersion | None


def predict_triage(
    items: Sequence[TriageInput], *, fast: bool = False, clinics: Iterable[Clinic] = ()
) -> list[TriageResult]:
    """The active model's labels with red flags on top. Raises NoActiveModel when no
    model is active; never trains (training takes minutes: triage.tasks does it).

    `fast`: the version's TF-IDF model alone (an ensemble's own, with its own
    thresholds). An ensemble whose transformer fails to run falls back to it too, so a
    broken ONNX graph costs accuracy, not the classification. `clinics`: the messages'
    clinics, read with them, whose configuration versions tell whether the active
    version this process knows is still the active one (model_registry.active_model)."""
    loaded = active_model(clinics=clinics)
    model = fast_path(loaded.model) if fast else loaded.model
    try:
        classified = classify_items(model, items)
    except DatabaseError:
        raise
    except Exception:
        if not isinstance(model, EnsembleModel):
            raise
        logger.exception("the transformer failed: the version's TF-IDF model classifies")
        classified = classify_items(fast_path(model), items)
    return [TriageResult(prediction, hits, loaded.version) for prediction, hits in classified]


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
    "model_version": None,
    "red_flags": [],
    "unclassified": True,
    "needs_review": True,
}


def labels_for(item: TriageInput) -> dict:
    """A classification's fields for one message, as the worker stores them and the rule
    tester shows them (labels_for_batch)."""
    return labels_for_batch([item])[0]


def labels_for_batch(items: Sequence[TriageInput], *, clinics: Iterable[Clinic] = ()) -> list[dict]:
    """A classification's fields per message, from one model call. A model that is
    missing or fails gives the unclassified labels (nurse triage, urgent, for review); a
    database error propagates, so a task retries instead of storing a fallback it did not
    need."""
    try:
        results = predict_triage(items, clinics=clinics)
    except DatabaseError:
        raise
    except NoActiveModel:
        logger.warning("no active triage model: %s message(s) routed as unclassified", len(items))
        return [dict(UNCLASSIFIED_LABELS) for _ in items]
    except Exception:
        logger.exception(
            "the triage model failed; %s message(s) routed as unclassified", len(items)
        )
        return [dict(UNCLASSIFIED_LABELS) for _ in items]
    return [classification_labels(result) for result in results]


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
