"""A fine-tuned transformer and an ensemble for tests: MiniLM trained for one step on a
few dozen rows (seconds), and pretrained MiniLM for the neighbours' vote, built once per
test session."""

import functools

from tests.triage.factories import small_training_corpus
from triage.ml.classifier import DecisionThresholds, TriageModel, message_text
from triage.ml.ensemble import EnsembleModel, NeighbourVote
from triage.ml.neighbours import NeighbourPool
from triage.ml.transformer.fine_tuning import (
    FineTuning,
    TrainingText,
    fine_tune,
    sentence_encoder,
    to_serving,
)


def training_texts():
    return [
        TrainingText(message_text(r.subject, r.body), r.acuity, r.service_level, r.evisit_candidate)
        for r in small_training_corpus()
    ]


@functools.cache
def one_step_network():
    return fine_tune(training_texts(), seed=0, settings=FineTuning(max_steps=1, batch_size=16))


@functools.cache
def minilm_encoder(*, quantize: bool = True):
    return sentence_encoder(quantize=quantize)


@functools.cache
def small_ensemble(*, quantize: bool = True) -> EnsembleModel:
    """With the neighbours' vote, as fit_ensemble builds one; versions stored before it
    have `neighbours` None (replace(small_ensemble(), neighbours=None))."""
    rows = small_training_corpus()
    encoder = minilm_encoder(quantize=quantize)
    pool = NeighbourPool.of(
        rows, encoder.embeddings([message_text(r.subject, r.body) for r in rows])
    )
    thresholds = DecisionThresholds(emergent=0.4, urgent_or_above=0.4)
    return EnsembleModel(
        tfidf=TriageModel.train(rows),
        transformer=to_serving(one_step_network(), quantize=quantize),
        thresholds=thresholds,
        neighbours=NeighbourVote(encoder, pool, pair_thresholds=thresholds),
    )
