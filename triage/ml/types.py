"""What goes into the triage model and what comes out of it: plain data, importing
nothing, so the classifier, the cue features and the red-flag layer share it without
importing each other."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class TriageInput:
    body: str
    subject: str = ""
    on_chemotherapy: bool = False


@dataclass(frozen=True)
class TriagePrediction:
    acuity: str
    service_level: str
    evisit_candidate: bool
    acuity_confidence: float
    service_level_confidence: float
    evisit_confidence: float
    needs_review: bool = False
    # The role whose queue receives the message: the predicted one, or, when the model is
    # unsure, the more trained of its two likeliest roles. Unsure never routes down.
    routing_service_level: str = ""


class TriageClassifier(Protocol):
    """What the decision code needs of a model: the TF-IDF model and the transformer
    ensemble both give it."""

    def predict(self, items: Sequence[TriageInput]) -> list[TriagePrediction]: ...
