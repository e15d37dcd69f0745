"""A fine-tuned transformer and an ensemble for tests: MiniLM trained for one step on a
few dozen rows (seconds), and pretrained MiniLM's embeddings for the neighbours' pool,
built once per test session."""

import functools

import torch

from tests.triage.factories import small_training_corpus
from triage.ml.classifier import DecisionThresholds, TriageModel, message_text
from triage.ml.ensemble import EnsembleModel, NeighbourVote
from triage.ml.neighbours import NeighbourPool
from triage.ml.transformer.fine_tuning import (
    HEAD_OUTPUTS,
    FineTuning,
    TrainingText,
    fine_tune,
    pretrained_embeddings,
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
    """With the neighbours' vote asking with the transformer's imitated embedding, as
    fit_ensemble builds one; versions stored before the vote have `neighbours` None
    (replace(small_ensemble(), neighbours=None))."""
    rows = small_training_corpus()
    pool = NeighbourPool.of(
        rows, pretrained_embeddings([message_text(r.subject, r.body) for r in rows])
    )
    thresholds = DecisionThresholds(emergent=0.4, urgent_or_above=0.4)
    return EnsembleModel(
        tfidf=TriageModel.train(rows),
        transformer=to_serving(one_step_network(), quantize=quantize),
        thresholds=thresholds,
        neighbours=NeighbourVote(pool, pair_thresholds=thresholds),
    )


@functools.cache
def ensemble_with_an_encoder() -> EnsembleModel:
    """As versions with the vote were before 2026-12-06's third change: the vote asks
    with a second graph, pretrained MiniLM itself, and the transformer's graph has
    three outputs."""
    from dataclasses import replace

    from triage.ml.transformer.fine_tuning import export_onnx, quantize_int8

    ensemble = small_ensemble()
    three_outputs = quantize_int8(
        export_onnx(_ThreeHeads(one_step_network()), outputs=HEAD_OUTPUTS[:3])
    )
    return replace(
        ensemble,
        transformer=replace(ensemble.transformer, onnx_model=three_outputs),
        neighbours=replace(ensemble.neighbours, encoder=minilm_encoder()),
    )


class _ThreeHeads(torch.nn.Module):
    def __init__(self, network):
        super().__init__()
        self.network = network

    def forward(self, input_ids, attention_mask):
        return self.network(input_ids, attention_mask)[:3]
