from dataclasses import replace

import numpy as np
import pytest

from tests.triage.factories import small_training_corpus
from triage.ml.classifier import (
    DEFAULT_VARIANT,
    DecisionThresholds,
    TriageInput,
    TriageModel,
    decide,
)
from triage.ml.corpus import LabeledMessage, load_corpus, load_training_only_rows
from triage.ml.training import (
    EMERGENT_RECALL_TARGET,
    URGENT_OR_ABOVE_RECALL_TARGET,
    choose_thresholds,
    out_of_fold_probabilities,
)


def _row(index: int, *, subject: str, acuity: str) -> LabeledMessage:
    return LabeledMessage(
        id=f"r{index}",
        subject=subject,
        body="message",
        acuity=acuity,
        service_level="nurse",
        evisit_candidate=False,
    )


def _urgency_only(p_urgent) -> dict[str, np.ndarray]:
    """Model probabilities with no emergent mass: P(urgent) as given, the rest routine."""
    p_urgent = np.asarray(p_urgent, dtype=float)
    return {
        "acuity": np.column_stack([np.zeros(len(p_urgent)), p_urgent, 1.0 - p_urgent]),
        "evisit_candidate": np.zeros(len(p_urgent)),
    }


def _chosen(rows, probabilities) -> DecisionThresholds:
    return choose_thresholds(probabilities, rows, [[] for _ in rows])


def _predicted_acuity(rows, probabilities, thresholds):
    probabilities = {
        **probabilities,
        "service_level": np.tile([0.0, 0.0, 1.0, 0.0], (len(rows), 1)),
    }
    return np.array([p.acuity for p in decide(probabilities, thresholds)])


def _most_accurate_single_pair(rows, probabilities):
    """Brute force over the grid: the one pair for every message that reaches both recall
    targets with the best accuracy."""
    gold = np.array([r.acuity for r in rows])
    p_e = probabilities["acuity"][:, 0]
    p_u = p_e + probabilities["acuity"][:, 1]
    best = None
    for t_e in np.round(np.arange(0.95, 0.0, -0.01), 3):
        for t_u in np.round(np.arange(0.95, 0.0, -0.01), 3):
            predicted = np.where(p_e >= t_e, "emergent", np.where(p_u >= t_u, "urgent", "routine"))
            e, u = gold == "emergent", gold != "routine"
            if e.any() and (predicted[e] == "emergent").mean() < EMERGENT_RECALL_TARGET:
                continue
            if (predicted[u] != "routine").mean() < URGENT_OR_ABOVE_RECALL_TARGET:
                continue
            accuracy = (predicted == gold).mean()
            if best is None or accuracy > best[0]:
                best = (accuracy, t_e, t_u)
    return DecisionThresholds(emergent=best[1], urgent_or_above=best[2])


def _recall(predicted, gold, part):
    urgent_or_above = part & (gold != "routine")
    return (predicted[urgent_or_above] != "routine").mean()


@pytest.fixture
def mixed_urgency():
    """Urgent messages the model mostly ranks high, a few ranked low among routine ones:
    reaching 0.97 recall costs routine messages flagged."""
    rng = np.random.default_rng(7)
    rows, p_urgent = [], []
    for i in range(400):
        urgent = i % 5 == 0
        rows.append(
            _row(i, subject="Refill" if i % 2 else "", acuity="urgent" if urgent else "routine")
        )
        low = urgent and i % 40 == 0
        p_urgent.append(
            rng.uniform(0.1, 0.3)
            if low
            else rng.uniform(0.55, 0.9)
            if urgent
            else rng.uniform(0.05, 0.5)
        )
    return rows, _urgency_only(p_urgent)


def test_the_chosen_pair_is_the_most_accurate_that_reaches_both_recall_targets(mixed_urgency):
    rows, probabilities = mixed_urgency

    thresholds = _chosen(rows, probabilities)

    predicted = _predicted_acuity(rows, probabilities, thresholds)
    gold = np.array([r.acuity for r in rows])
    assert _recall(predicted, gold, np.ones(len(rows), bool)) >= URGENT_OR_ABOVE_RECALL_TARGET
    best = _predicted_acuity(rows, probabilities, _most_accurate_single_pair(rows, probabilities))
    assert (predicted == gold).mean() == (best == gold).mean()


def test_no_threshold_depends_on_the_subject_line():
    """The subject line told the corpus's real questions from its portal messages: a
    threshold keyed on it learns where a row came from. One pair holds for all."""
    assert {f.name for f in DecisionThresholds.__dataclass_fields__.values()} == {
        "emergent",
        "urgent_or_above",
        "evisit",
        "review",
    }
    probabilities = {
        "acuity": np.array([[0.0, 0.2, 0.8], [0.0, 0.2, 0.8]]),
        "service_level": np.array([[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 0.0]]),
        "evisit_candidate": np.zeros(2),
    }
    predictions = decide(probabilities, DecisionThresholds(emergent=0.1, urgent_or_above=0.1))
    assert [p.acuity for p in predictions] == ["urgent", "urgent"]


def test_the_model_classifies_a_message_the_same_with_its_subject_in_the_field_or_the_body():
    """Through TriageModel.predict, the path the worker and classify_messages take."""
    model = TriageModel.train(small_training_corpus(), variant="tfidf-word-char-logreg")
    model = replace(model, thresholds=DecisionThresholds(emergent=0.3, urgent_or_above=0.3))

    in_field, in_body = model.predict(
        [
            TriageInput(subject="Question", body="burning when I pee since yesterday"),
            TriageInput(subject="", body="Question\nburning when I pee since yesterday"),
        ]
    )

    assert in_field == in_body


def test_training_only_rows_shape_every_fold_s_model_and_are_never_scored():
    rows = small_training_corpus()
    written = [
        replace(r, id=f"written-{i}", body=f"{r.body} please", acuity="emergent")
        for i, r in enumerate(rows[:9])
    ]

    alone = out_of_fold_probabilities(rows, DEFAULT_VARIANT, 3)
    helped = out_of_fold_probabilities(rows, DEFAULT_VARIANT, 3, training_only=written)

    assert {len(v) for v in helped.values()} == {len(rows)}
    # Nine more emergencies in every fold's training part: the other rows look more like one.
    others = np.array([r.acuity != "emergent" for r in rows])
    assert np.all(helped["acuity"][others, 0] > alone["acuity"][others, 0])


def test_the_written_questions_are_kept_apart_from_the_corpus(settings):
    corpus = load_corpus(settings.TRIAGE_CORPUS_DIR)
    written = load_training_only_rows(settings.TRIAGE_CORPUS_DIR)

    assert len(written) == 400
    assert {r.source for r in written} == {"synthetic-question"}
    assert not {r.id for r in written} & {r.id for r in corpus}
    assert not [r.id for r in written if "SUBJECT:" in r.body]


def test_a_corpus_without_training_only_rows_has_none(tmp_path):
    assert load_training_only_rows(tmp_path) == []
