"""A faster character n-gram TF-IDF for the triage model. Pure: no ORM.

sklearn's char_wb TfidfVectorizer builds every n-gram of every word of every message in
Python. Portal messages reuse a small vocabulary, so this transformer remembers, per
word, the vocabulary indices of its n-grams: each word is cut into n-grams once per
process. Its output equals TfidfVectorizer(analyzer="char_wb", sublinear_tf=True) on
the same text (tested).
"""

import re
from array import array

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer, strip_accents_unicode
from sklearn.preprocessing import normalize

_WHITESPACE = re.compile(r"\s\s+")
WORD_CACHE_LIMIT = 500_000


def word_char_ngrams(word: str, min_n: int, max_n: int) -> list[str]:
    """char_wb n-grams of one word, exactly as sklearn cuts them."""
    padded = f" {word} "
    grams = []
    for n in range(min_n, max_n + 1):
        offset = 0
        grams.append(padded[offset : offset + n])
        while offset + n < len(padded):
            offset += 1
            grams.append(padded[offset : offset + n])
        if offset == 0:  # the word is shorter than n: one n-gram is the whole word
            break
    return grams


def _preprocess(text: str) -> str:
    return _WHITESPACE.sub(" ", strip_accents_unicode(text.lower()))


def _sublinear_counts(indices: array, indptr: list[int], idf: np.ndarray) -> sp.csr_matrix:
    """Rows of vocabulary indices (one per occurrence) -> sublinear TF-IDF before
    normalization, (1 + log(count)) * idf, as TfidfVectorizer(sublinear_tf=True) weighs."""
    matrix = sp.csr_matrix(
        (np.ones(len(indices)), np.frombuffer(indices, dtype=np.int64), indptr),
        shape=(len(indptr) - 1, len(idf)),
    )
    matrix.sum_duplicates()  # one entry per n-gram holding its count; sorted indices
    np.log(matrix.data, out=matrix.data)
    matrix.data += 1.0  # sublinear tf: 1 + log(count)
    matrix.data *= idf[matrix.indices]
    return matrix


def _sublinear_tfidf(indices: array, indptr: list[int], idf: np.ndarray):
    """The same, l2-normalized per row: TfidfVectorizer(sublinear_tf=True)'s output."""
    return normalize(_sublinear_counts(indices, indptr, idf), norm="l2", copy=False)


def word_ngram_indices(tokens: list[str], lookup, min_n: int, max_n: int) -> list[int]:
    """Vocabulary indices of a token list's word n-grams (unknown ones dropped), as
    TfidfVectorizer joins them."""
    found = [lookup(t) for t in tokens] if min_n == 1 else []
    for n in range(max(2, min_n), max_n + 1):
        found += [lookup(" ".join(tokens[i : i + n])) for i in range(len(tokens) - n + 1)]
    return [i for i in found if i is not None]


class CharNgramAnalyzer:
    """Picklable analyzer: accents stripped, lowercased, char_wb n-grams."""

    def __init__(self, min_n: int, max_n: int):
        self.min_n, self.max_n = min_n, max_n

    def __call__(self, text: str) -> list[str]:
        grams: list[str] = []
        for word in _preprocess(text).split():
            grams.extend(word_char_ngrams(word, self.min_n, self.max_n))
        return grams


class CachedCharTfidf(BaseEstimator, TransformerMixin):
    def __init__(self, ngram_range=(3, 5), min_df=2, max_features=150_000):
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_features = max_features

    def fit(self, texts, y=None):
        self.vectorizer_ = TfidfVectorizer(
            analyzer=CharNgramAnalyzer(*self.ngram_range),
            min_df=self.min_df,
            max_features=self.max_features,
            sublinear_tf=True,
        ).fit(texts)
        self.idf_ = self.vectorizer_.idf_
        return self

    def fit_transform(self, texts, y=None):
        return self.fit(texts).transform(texts)

    def _word_indices(self, word: str) -> array:
        cache = self.__dict__.setdefault("_cache", {})
        found = cache.get(word)
        if found is None:
            vocabulary = self.vectorizer_.vocabulary_
            found = array(
                "q",
                [
                    vocabulary[g]
                    for g in word_char_ngrams(word, *self.ngram_range)
                    if g in vocabulary
                ],
            )
            if len(cache) < WORD_CACHE_LIMIT:
                cache[word] = found
        return found

    def add_indices(self, indices: array, words: list[str]) -> None:
        """Appends the vocabulary indices of the n-grams of `words`, one per occurrence."""
        cached = self.__dict__.setdefault("_cache", {}).get
        for word in words:
            found = cached(word)
            indices.extend(found if found is not None else self._word_indices(word))

    def transform(self, texts):
        indptr, indices = [0], array("q")
        for text in texts:
            self.add_indices(indices, _preprocess(text).split())
            indptr.append(len(indices))
        return _sublinear_tfidf(indices, indptr, self.idf_)

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_cache", None)  # rebuilt per process; keeps the artifact small
        return state


class WordTfidf(BaseEstimator, TransformerMixin):
    """Word n-gram TF-IDF equal to TfidfVectorizer(ngram_range, min_df, max_df,
    sublinear_tf=True, strip_accents="unicode") (tested), with a leaner transform:
    sklearn's counts each n-gram through several Python calls."""

    def __init__(self, ngram_range=(1, 2), min_df=1, max_df=0.9):
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_df = max_df

    def fit(self, texts, y=None):
        self.vectorizer_ = TfidfVectorizer(
            ngram_range=self.ngram_range,
            min_df=self.min_df,
            max_df=self.max_df,
            sublinear_tf=True,
            strip_accents="unicode",
        ).fit(texts)
        self.idf_ = self.vectorizer_.idf_
        return self

    def fit_transform(self, texts, y=None):
        return self.fit(texts).transform(texts)

    def transform(self, texts):
        min_n, max_n = self.ngram_range
        lookup = self.vectorizer_.vocabulary_.get
        tokenize = re.compile(self.vectorizer_.token_pattern).findall
        indptr, indices = [0], array("q")
        for text in texts:
            tokens = tokenize(strip_accents_unicode(text.lower()))
            indices.extend(word_ngram_indices(tokens, lookup, min_n, max_n))
            indptr.append(len(indices))
        return _sublinear_tfidf(indices, indptr, self.idf_)


class LinearTextScorer:
    """Word and character TF-IDF and every logistic-regression head in one pass, for a
    trained model whose featurizer is [WordTfidf, CachedCharTfidf].

    The same numbers as FeatureUnion.transform followed by each head's predict_proba
    (tested), with less work per message: the text is lowered and stripped of accents
    once, both n-gram sets go into one sparse matrix that is sorted once, and all heads
    are scored by one sparse-dense product. Nothing of scikit-learn's per-call input
    checking runs, which is most of the time of a single message.
    """

    def __init__(
        self,
        word: WordTfidf,
        char: CachedCharTfidf,
        heads: dict[str, object],
    ):
        self.word_vocabulary = word.vectorizer_.vocabulary_
        self.word_ngrams = word.ngram_range
        self.tokenize = re.compile(word.vectorizer_.token_pattern).findall
        self.char = char
        # Columns: the character block first, so the per-word character indices that
        # CachedCharTfidf remembers are used as they are; word indices are shifted.
        self.char_width = len(char.idf_)
        word_width = len(word.idf_)
        self.idf = np.concatenate([char.idf_, word.idf_])

        def char_first(coef: np.ndarray) -> np.ndarray:  # FeatureUnion order: word, char
            return np.vstack([coef[:, word_width:].T, coef[:, :word_width].T])

        columns, self.head_columns, self.binary = [], [], {}
        for name, head in heads.items():
            coef = np.asarray(head.coef_)
            start = sum(c.shape[1] for c in columns)
            columns.append(char_first(coef))
            self.head_columns.append((name, slice(start, start + coef.shape[0])))
            self.binary[name] = coef.shape[0] == 1
        self.weights = np.ascontiguousarray(np.hstack(columns))
        self.intercepts = np.concatenate([np.asarray(h.intercept_) for h in heads.values()])

    def features(self, texts) -> sp.csr_matrix:
        min_n, max_n = self.word_ngrams
        lookup = self.word_vocabulary.get
        tokenize = self.tokenize
        add_char_indices = self.char.add_indices
        shift = self.char_width
        indptr, indices = [0], array("q")
        for text in texts:
            lowered = strip_accents_unicode(text.lower())
            add_char_indices(indices, lowered.split())
            found = word_ngram_indices(tokenize(lowered), lookup, min_n, max_n)
            indices.extend([i + shift for i in found])
            indptr.append(len(indices))
        matrix = _sublinear_counts(indices, indptr, self.idf)
        # Each block (characters, words) is l2-normalized on its own, as FeatureUnion
        # of two TfidfVectorizers does.
        rows = len(indptr) - 1
        block = np.repeat(np.arange(rows) * 2, np.diff(matrix.indptr))
        block += matrix.indices >= shift
        norms = np.sqrt(np.bincount(block, weights=matrix.data**2, minlength=rows * 2))
        matrix.data /= norms[block]
        return matrix

    def probabilities(self, texts) -> dict[str, np.ndarray]:
        """Per head, predict_proba's columns in the head's classes_ order."""
        scores = self.features(texts) @ self.weights
        scores += self.intercepts
        out = {}
        for name, columns in self.head_columns:
            s = scores[:, columns]
            if self.binary[name]:
                p = 1.0 / (1.0 + np.exp(-s[:, 0]))
                out[name] = np.column_stack([1.0 - p, p])
            else:
                s = s - s.max(axis=1, keepdims=True)
                np.exp(s, out=s)
                out[name] = s / s.sum(axis=1, keepdims=True)
        return out
