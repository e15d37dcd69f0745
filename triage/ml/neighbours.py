"""The neighbours' vote, the ensemble's third member: the labels of the corpus messages
closest in meaning to a new one, by all-MiniLM-L6-v2's own sentence embeddings (as
pretrained, not fine-tuned). Pure: numpy only, no ORM, no PyTorch.

Why a vote from an encoder nobody trained: the fine-tuned transformer and the TF-IDF
model both learn from the same few hundred urgent rows, and rank alike where those rows
say little. MiniLM's similarity, learnt from a billion sentence pairs, knows that
"I can't keep anything down" is like "vomiting since last night" without being taught. On
its own it ranks the real questions' urgency worse than either model; averaged in at a
fifth, it ranked them better than the two together (docs/triage.md).
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from triage.ml.classifier import ACUITY_CLASSES, SERVICE_LEVEL_CLASSES
from triage.ml.corpus import LabeledMessage

# Chosen on seed 0's folds only (docs/triage.md), then measured on seeds 1 and 2.
NEIGHBOURS = 25
TEMPERATURE = 0.05
# The vote's share of each head's probability; the transformer and the TF-IDF model
# share the rest as before.
DEFAULT_NEIGHBOUR_WEIGHT = 0.2
# NeighbourPool's arrays with a row per voting message.
PER_MESSAGE = ("embeddings", "acuity", "service_level", "evisit_candidate")


@dataclass
class NeighbourPool:
    """Unit-length embeddings of the labelled messages that vote, and their labels."""

    embeddings: np.ndarray  # (messages, dimensions), float32, rows of length 1
    acuity: np.ndarray  # index into ACUITY_CLASSES
    service_level: np.ndarray  # index into SERVICE_LEVEL_CLASSES
    evisit_candidate: np.ndarray  # bool
    neighbours: int = NEIGHBOURS
    temperature: float = TEMPERATURE

    @classmethod
    def of(cls, rows: Sequence[LabeledMessage], embeddings: np.ndarray) -> "NeighbourPool":
        if len(rows) != len(embeddings):
            raise ValueError(f"{len(rows)} messages but {len(embeddings)} embeddings")
        return cls(
            embeddings=np.asarray(embeddings, dtype=np.float32),
            acuity=np.array([ACUITY_CLASSES.index(r.acuity) for r in rows], dtype=np.int8),
            service_level=np.array(
                [SERVICE_LEVEL_CLASSES.index(r.service_level) for r in rows], dtype=np.int8
            ),
            evisit_candidate=np.array([r.evisit_candidate for r in rows], dtype=bool),
        )

    def subset(self, index) -> "NeighbourPool":
        return self._with(lambda name: getattr(self, name)[index])

    def joined(self, other: "NeighbourPool") -> "NeighbourPool":
        return self._with(lambda name: np.concatenate([getattr(self, name), getattr(other, name)]))

    def _with(self, values_of) -> "NeighbourPool":
        """These settings, with each per-message array replaced by values_of(its name)."""
        return replace(self, **{name: values_of(name) for name in PER_MESSAGE})

    def vote(self, embeddings: np.ndarray) -> dict[str, np.ndarray]:
        """Per head, the share of the nearest messages' labels, each neighbour weighted by
        exp(cosine similarity / temperature): the head's probabilities, in the
        classifier's column order."""
        similarity = np.asarray(embeddings, dtype=np.float32) @ self.embeddings.T
        k = min(self.neighbours, similarity.shape[1])
        nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        closeness = np.take_along_axis(similarity, nearest, axis=1).astype(np.float64)
        weights = np.exp((closeness - closeness.max(axis=1, keepdims=True)) / self.temperature)
        weights /= weights.sum(axis=1, keepdims=True)

        def shares(labels: np.ndarray, classes: int) -> np.ndarray:
            return np.stack(
                [(weights * (labels[nearest] == c)).sum(axis=1) for c in range(classes)], axis=1
            )

        return {
            "acuity": shares(self.acuity, len(ACUITY_CLASSES)),
            "service_level": shares(self.service_level, len(SERVICE_LEVEL_CLASSES)),
            "evisit_candidate": (weights * self.evisit_candidate[nearest]).sum(axis=1),
        }


def out_of_fold_votes(
    pool: NeighbourPool,
    folds: Sequence[Sequence[int]],
    training_only: NeighbourPool | None,
    *,
    queries: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Each fold's rows voted on by the other folds' rows (and the training-only rows,
    which vote but are never voted on): no message hears its own label. A row asks with
    its own embedding in the pool unless `queries` gives another, a row per pool row
    (the fine-tuned transformer's imitation of it, as served)."""
    queries = pool.embeddings if queries is None else np.asarray(queries, dtype=np.float32)
    n = len(pool.embeddings)
    out = {
        "acuity": np.zeros((n, len(ACUITY_CLASSES))),
        "service_level": np.zeros((n, len(SERVICE_LEVEL_CLASSES))),
        "evisit_candidate": np.zeros(n),
    }
    for held in folds:
        voters = pool.subset(np.setdiff1d(np.arange(n), held))
        if training_only is not None:
            voters = voters.joined(training_only)
        for head, values in voters.vote(queries[list(held)]).items():
            out[head][list(held)] = values
    return out


def blend(
    others: dict[str, np.ndarray], votes: dict[str, np.ndarray], weight: float
) -> dict[str, np.ndarray]:
    return {h: (1.0 - weight) * others[h] + weight * votes[h] for h in others}
