"""One code path from message text to labels, used by the worker and by classify_messages."""

from collections.abc import Sequence
from dataclasses import dataclass

from triage.classifier import TriageInput, TriagePrediction
from triage.model_registry import active_model
from triage.models import ModelVersion


@dataclass(frozen=True)
class TriageResult:
    prediction: TriagePrediction
    model_version: ModelVersion


def predict_triage(items: Sequence[TriageInput]) -> list[TriageResult]:
    loaded = active_model()
    return [TriageResult(p, loaded.version) for p in loaded.model.predict(items)]
