"""The statistical triage model: one shared text featurizer, three linear heads.

Pure: no ORM. Vectorizing once and scoring three heads keeps batch throughput high.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion

from triage.corpus import LabeledMessage


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


def message_text(subject: str, body: str) -> str:
    return f"{subject}\n{body}" if subject else body


def _featurizer() -> FeatureUnion:
    return FeatureUnion(
        [
            (
                "word",
                TfidfVectorizer(
                    ngram_range=(1, 2), min_df=1, sublinear_tf=True, strip_accents="unicode"
                ),
            ),
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(3, 5),
                    min_df=2,
                    sublinear_tf=True,
                    max_features=150_000,
                    strip_accents="unicode",
                ),
            ),
        ]
    )


def _head() -> LogisticRegression:
    return LogisticRegression(C=8.0, class_weight="balanced", max_iter=3000)


class TriageModel:
    def __init__(self, featurizer: FeatureUnion, heads: dict[str, LogisticRegression]):
        self.featurizer = featurizer
        self.heads = heads

    @classmethod
    def train(cls, rows: Sequence[LabeledMessage]) -> "TriageModel":
        texts = [message_text(r.subject, r.body) for r in rows]
        featurizer = _featurizer()
        features = featurizer.fit_transform(texts)
        targets = {
            "acuity": [r.acuity for r in rows],
            "service_level": [r.service_level for r in rows],
            "evisit_candidate": [r.evisit_candidate for r in rows],
        }
        heads = {name: _head().fit(features, y) for name, y in targets.items()}
        return cls(featurizer, heads)

    def predict(self, items: Sequence[TriageInput]) -> list[TriagePrediction]:
        if not items:
            return []
        features = self.featurizer.transform([message_text(i.subject, i.body) for i in items])
        decided = {}
        for name, head in self.heads.items():
            probabilities = head.predict_proba(features)
            best = probabilities.argmax(axis=1)
            decided[name] = (head.classes_[best], probabilities[np.arange(len(items)), best])
        return [
            TriagePrediction(
                acuity=str(decided["acuity"][0][i]),
                service_level=str(decided["service_level"][0][i]),
                evisit_candidate=bool(decided["evisit_candidate"][0][i]),
                acuity_confidence=float(decided["acuity"][1][i]),
                service_level_confidence=float(decided["service_level"][1][i]),
                evisit_confidence=float(decided["evisit_candidate"][1][i]),
            )
            for i in range(len(items))
        ]
