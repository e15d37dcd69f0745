import io
from dataclasses import replace

import joblib
import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from tests.triage.factories import small_training_corpus
from triage.ml.classifier import (
    TriageInput,
    TriageModel,
    message_text,
)
from triage.ml.features import CachedCharTfidf, WordTfidf

TEXTS = [
    "Refill my lisinopril please, 10 mg",
    "I have chest pain   and my arm is numb!!",
    "Tengo fiebre de 38.5 y estoy en quimio, ¿qué hago?",
    "ok",
    "Can I move my appointment? Thanks!\nAlso: parking?",
] * 3


def test_cached_char_tfidf_equals_sklearn_char_wb():
    reference = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(3, 5),
        min_df=2,
        sublinear_tf=True,
        strip_accents="unicode",
    ).fit(TEXTS)
    ours = CachedCharTfidf(ngram_range=(3, 5), min_df=2).fit(TEXTS)
    unseen = ["my chest hurts when I breathe", "fiebre alta hoy", "I need a refill"]

    for texts in (TEXTS, unseen):
        expected = reference.transform(texts).toarray()
        got = ours.transform(texts)
        # Columns may be ordered differently: compare through the shared vocabulary.
        order = [reference.vocabulary_[g] for g in ours.vectorizer_.get_feature_names_out()]
        assert np.allclose(got.toarray(), expected[:, order])


def test_word_tfidf_equals_sklearn():
    unseen = ["my chest hurts when I breathe", "fiebre alta hoy", "I need a refill", ""]
    for ngram_range in ((1, 2), (1, 3), (2, 2)):
        reference = TfidfVectorizer(
            ngram_range=ngram_range,
            min_df=1,
            max_df=0.9,
            sublinear_tf=True,
            strip_accents="unicode",
        ).fit(TEXTS)
        ours = WordTfidf(ngram_range=ngram_range, min_df=1, max_df=0.9).fit(TEXTS)
        for texts in (TEXTS, unseen):
            assert np.allclose(
                ours.transform(texts).toarray(), reference.transform(texts).toarray()
            )


ROWS = small_training_corpus()
ODD_INPUTS = [
    TriageInput(body=""),
    TriageInput(body="   \n\t "),
    TriageInput(subject="Refill", body="chest pain, can't breathe"),
    TriageInput(body="Ünïcödé ñ ß ﬁ 🙂 zzzqqq xyzzy"),
    TriageInput(body="a"),
    TriageInput(body="refill refill refill refill lisinopril " * 40),
]


def _reference_probabilities(model: TriageModel, items) -> dict[str, np.ndarray]:
    """What the FeatureUnion and each head's predict_proba give, without the scorer."""
    features = model.featurizer.transform([message_text(i.subject, i.body) for i in items])

    return {name: head.predict_proba(features) for name, head in model.heads.items()}


@pytest.mark.parametrize(
    "variant",
    [
        "tfidf-word-char-logreg",
        "tfidf-word-char-binary-logreg",
    ],
)
def test_linear_text_scorer_equals_the_featurizer_and_heads(variant):
    rows = [replace(r, subject="Portal message") if i % 2 else r for i, r in enumerate(ROWS)]
    model = TriageModel.train(rows, variant=variant)
    items = [TriageInput(subject=r.subject, body=r.body) for r in rows] + ODD_INPUTS
    scorer = model._linear_scorer()
    assert scorer is not None

    got = scorer.probabilities([message_text(i.subject, i.body) for i in items])
    expected = _reference_probabilities(model, items)

    assert got.keys() == expected.keys()
    for name in expected:
        assert np.allclose(got[name], expected[name], rtol=0, atol=1e-12), name


def test_models_the_scorer_cannot_serve_use_the_general_path():
    svm = TriageModel.train(ROWS, variant="tfidf-word-char-svm")
    cues = TriageModel.train(ROWS, variant="tfidf-word-char-cues-logreg")
    assert svm._linear_scorer() is None
    assert cues._linear_scorer() is None
    assert len(svm.predict(ODD_INPUTS)) == len(ODD_INPUTS)


def test_a_stored_model_rebuilds_its_scorer_and_predicts_the_same():
    model = TriageModel.train(ROWS)
    before = model.predict(ODD_INPUTS)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    loaded = joblib.load(io.BytesIO(buffer.getvalue()))

    assert "_scorer" not in loaded.__dict__  # not stored in the artifact
    assert loaded.predict(ODD_INPUTS) == before
