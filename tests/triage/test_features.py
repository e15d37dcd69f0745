import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from triage.features import CachedCharTfidf, WordTfidf

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
