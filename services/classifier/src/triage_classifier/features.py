"""Turning message text into model features.

Kept in its own module because the trained artifact pickles references to these
names: renaming or moving them invalidates saved models (bump CODE_REVISION).
"""

import re
from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2

from triage_runtime.text import fold

_URL = re.compile(r"(?:https?://|www\.)\S+|[\w-]+\.(?:com|net|org|io|ly|co|me|shop|link|xyz)\b(?:/\S*)?")
# A cheap first look: the full link pattern is slow and most messages have no link.
_MAYBE_URL = re.compile(r"https?://|www\.|\.(?:com|net|org|io|ly|co|me|shop|link|xyz)\b")
_HANDLE = re.compile(r"@\w+")
_DIGITS = re.compile(r"\d+")
_REPEATS = re.compile(r"(.)\1{2,}")


def normalise(text: str) -> str:
    """Fold what differs between authors but not between meanings: case, accents
    (often dropped on phones), links, @handles and numbers become placeholders (an
    order number's digits say nothing about the issue), stretched letters shrink to two.
    Case and accents fold as for the guardrails and the router's keywords (``triage_runtime.text.fold``)."""
    text = fold(text)
    if _MAYBE_URL.search(text):
        text = _URL.sub(" urltoken ", text)
    if "@" in text:
        text = _HANDLE.sub(" handletoken ", text)
    text = _DIGITS.sub("0", text)
    text = _REPEATS.sub(r"\1\1", text)
    return " ".join(text.split())


def normalise_all(texts: Iterable[str]) -> list[str]:
    return [normalise(text) for text in texts]


class HashedCharNgrams(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """TF-IDF over hashed character n-grams, computed for a whole batch at once with NumPy.

    Character n-grams survive typos, slang, inflection and code-switching across the
    three languages; scikit-learn's own char analyzer walks every n-gram in Python,
    which caps serving at a few thousand messages a second, so the n-grams are hashed
    here with vectorised rolling hashes instead. Collisions in 2**20 buckets are rare
    enough not to matter for a linear model.
    """

    def __init__(self, ngram_range: tuple[int, int] = (2, 5), n_features: int = 2**20) -> None:
        self.ngram_range = ngram_range
        self.n_features = n_features

    def _counts(self, texts: list[str]) -> "sparse.csr_matrix":
        low, high = self.ngram_range
        padded = [f" {text} " for text in texts]
        lengths = np.fromiter((len(text) for text in padded), dtype=np.int64, count=len(padded))
        # One code-point array for the batch; a -1 doc id marks the separator between messages.
        codes = np.frombuffer("\0".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        doc_ids = np.full(codes.shape[0], -1, dtype=np.int64)
        starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1]))
        for_doc = np.repeat(np.arange(len(padded)), lengths)
        positions = np.repeat(starts, lengths) + _ranges(lengths)
        doc_ids[positions] = for_doc
        rows: list[NDArray[np.int64]] = []
        cols: list[NDArray[np.uint64]] = []
        rolling = np.zeros(codes.shape[0], dtype=np.uint64)
        multiplier = np.uint64(1_000_003)
        for n in range(1, high + 1):
            usable = codes.shape[0] - n + 1
            if usable <= 0:
                break
            rolling = rolling[:usable] * multiplier + codes[n - 1 : n - 1 + usable]
            if n < low:
                continue
            same_doc = (doc_ids[:usable] >= 0) & (doc_ids[:usable] == doc_ids[n - 1 : n - 1 + usable])
            mixed = rolling[same_doc] ^ (rolling[same_doc] >> np.uint64(31))
            mixed = mixed * np.uint64(0x9E3779B97F4A7C15) + np.uint64(n)
            rows.append(doc_ids[:usable][same_doc])
            cols.append((mixed >> np.uint64(20)) % np.uint64(self.n_features))
        row = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        col = np.concatenate(cols).astype(np.int64) if cols else np.zeros(0, dtype=np.int64)
        data = np.ones(row.shape[0], dtype=np.float32)
        counts = sparse.csr_matrix((data, (row, col)), shape=(len(texts), self.n_features), dtype=np.float32)
        counts.sum_duplicates()
        return counts

    def fit(self, texts: list[str], y: Any = None) -> "HashedCharNgrams":
        counts = self._counts(list(texts))
        document_frequency = np.bincount(counts.indices, minlength=self.n_features)
        documents = counts.shape[0]
        self.idf_ = (np.log((1 + documents) / (1 + document_frequency)) + 1).astype(np.float32)
        return self

    def transform(self, texts: list[str]) -> "sparse.csr_matrix":
        counts = self._counts(list(texts))
        # Sublinear term frequency: the tenth "!!!" says less than the first.
        counts.data = (1 + np.log(counts.data)) * self.idf_[counts.indices]
        # Row scaling in place: a sparse diagonal product would touch every column per call.
        row_of_entry = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
        norms = np.sqrt(np.bincount(row_of_entry, weights=counts.data**2, minlength=counts.shape[0]))
        norms[norms == 0] = 1
        counts.data = (counts.data / norms[row_of_entry]).astype(np.float32)
        return counts


def _ranges(lengths: NDArray[np.int64]) -> NDArray[np.int64]:
    """0..len-1 for each length, concatenated."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    steps = np.ones(total, dtype=np.int64)
    nonempty = lengths[lengths > 0]
    boundaries = ends[lengths > 0][:-1]
    steps[0] = 0
    steps[boundaries] = 1 - nonempty[:-1]
    return np.cumsum(steps)


def make_features(
    word_ngrams: tuple[int, int], char_ngrams: tuple[int, int], word_buckets: int, char_buckets: int
) -> Pipeline:
    """Word n-grams carry the topic; character n-grams carry spelling variants.

    Words are hashed too (no vocabulary lookup in Python), then TF-IDF weighted.
    """
    words = Pipeline(
        [
            (
                "hash",
                HashingVectorizer(
                    lowercase=False,
                    ngram_range=word_ngrams,
                    token_pattern=r"(?u)\b\w+\b|[!?]+|[\U0001F300-\U0001FAFF]",
                    n_features=word_buckets,
                    alternate_sign=False,
                    norm=None,
                    dtype=np.float32,
                ),
            ),
            ("tfidf", TfidfTransformer(sublinear_tf=True)),
        ]
    )
    union = FeatureUnion([("words", words), ("chars", HashedCharNgrams(char_ngrams, char_buckets))])
    return Pipeline([("normalise", FunctionTransformer(normalise_all)), ("union", union)])


class ServingFeatures:
    """The fitted feature pipeline's arithmetic without scikit-learn's per-call layers.

    ``Pipeline.transform`` validates its input, dispatches the union through joblib and
    builds a sparse diagonal for the IDF product on every call: about 1 ms for a one-
    message batch, most of a quiet stream's classifier time. This reads the fitted parts
    once and applies the same operations (``test_serving_features`` checks they agree).
    """

    def __init__(self, fitted: Pipeline) -> None:
        normalise_step, union = (step for _, step in fitted.steps)
        words, chars = (part for _, part in union.transformer_list)
        hasher, tfidf = (step for _, step in words.steps)
        if union.transformer_weights or not tfidf.sublinear_tf or tfidf.norm != "l2":
            raise ValueError("the feature pipeline differs from make_features(); retrain or extend ServingFeatures")
        self._normalise = normalise_step.func
        self._hasher: HashingVectorizer = hasher
        self._word_idf: NDArray[np.float64] = np.asarray(tfidf.idf_)
        self._chars: HashedCharNgrams = chars

    def transform(self, texts: list[str]) -> "sparse.csr_matrix":
        normalised = self._normalise(texts)
        words = self._hasher.transform(normalised).tocsr()
        np.log(words.data, out=words.data)
        words.data += 1.0
        words.data *= self._word_idf[words.indices]
        inplace_csr_row_normalize_l2(words)
        return sparse.hstack([words, self._chars.transform(normalised)], format="csr")
