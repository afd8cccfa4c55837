"""Which language a message is written in, and whether the model can read it.

Pure logic, no Kafka. The identifier is py3langid's naive Bayes over byte n-grams (a
fork of langid.py); its model ships inside the pip package, so nothing is downloaded at
run time. It is restricted to a configured set of candidate languages, and a language
outside the set the issue-type model was trained on sends the message to review, as do
texts with nothing to judge (empty, emoji or symbols only, a word or two).

py3langid scores one text at a time in Python (about 70 µs for a corpus message, half
the model's own cost per message in a batch); here a batch is scored at once with NumPy,
walking py3langid's byte automaton one position at a time for all its texts together,
and a few texts are walked in Python without py3langid's per-call overhead. A unit test
holds the probabilities equal to py3langid's own.
"""

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from py3langid.langid import MODEL_FILE  # type: ignore[import-untyped]
from py3langid.langid import LanguageIdentifier as _Py3Langid
from scipy import sparse

# Review reasons (``Classification.review_reasons``).
EMPTY_TEXT = "empty_text"
NO_WORDS = "no_words"
TOO_SHORT = "too_short"
LANGUAGE_UNCERTAIN = "language_uncertain"
NOT_TRAINED = "language_not_trained"  # written "language_not_trained:<code>"

# Languages a brand's inbox commonly receives: western and northern Europe, the
# Americas' languages, and the large languages of other scripts (so a message in one of
# them is named, not forced onto the nearest Latin-script language).
DEFAULT_CANDIDATES = (
    "en", "fr", "es", "de", "it", "pt", "nl", "pl", "sv", "da", "no", "fi", "ro", "tr",
    "el", "ru", "uk", "ar", "he", "hi", "zh", "ja", "ko",
)  # fmt: skip
# What the issue-type corpus is written in (data/corpus: en, fr, es).
DEFAULT_TRAINED = ("en", "fr", "es")

# Links, e-mail addresses and @handles say nothing of the language; digits, emoji and
# symbols neither. Hashtags keep their words (often the only words of a post). Fixed
# patterns, linear in the text.
_URL = re.compile(r"(?:https?://|www\.)\S+|[\w-]+\.(?:com|net|org|io|ly|co|me|shop|link|xyz)\b(?:/\S*)?")
_MAYBE_URL = re.compile(r"https?://|www\.|\.(?:com|net|org|io|ly|co|me|shop|link|xyz)\b")
# A word with an "@" (a handle, an e-mail address), tried only where a word starts.
_AT_WORD = re.compile(r"(?<!\S)\S*@\S*")
_NOISE = re.compile(
    r"[\d_#*+=<>|~^`$%&/\\\[\]{}"  # digits and ASCII symbols
    r"\u00a9\u00ae\u200b-\u200f\u2060-\u206f\u20a0-\u20cf\u20e3"  # (c) (R), invisible marks, currencies, keycaps
    r"\u2100-\u2bff\ufe00-\ufe0f\U0001f000-\U0001faff]+"  # arrows, shapes, dingbats, variation selectors, emoji
)
_NOT_LETTERS = re.compile(r"[\W\d_]+")

# A batch is walked position by position in NumPy when its bytes outnumber this many of
# its longest text's (each position costs a few NumPy calls, each byte in Python ~0.3 µs).
_VECTOR_WALK_FACTOR = 24


class LanguageSetupError(ValueError):
    """A configured language the identifier does not know; the message names it."""


@dataclass(frozen=True)
class LanguagePolicy:
    """What the identifier may answer and when its answer sends a message to review."""

    candidates: tuple[str, ...] = DEFAULT_CANDIDATES
    trained: tuple[str, ...] = DEFAULT_TRAINED
    # Fewer letters than this (after links, handles, digits and emoji are removed): too short to judge.
    min_letters: int = 4
    # The language is named when the identifier gives it at least this probability among the candidates.
    min_confidence: float = 0.5
    # Characters the identifier reads (language is clear long before; the cost grows with length).
    max_chars: int = 300
    # How many times likelier a trained language is than another candidate before reading
    # the text: the inbox is mostly in them, and a few words of Spanish can read as Portuguese.
    trained_prior: float = 3.0


@dataclass(frozen=True)
class LanguageVerdict:
    """``language``: BCP 47 code, or None when not identified; ``confidence``: the
    identifier's probability of its likeliest candidate (0 when the text was not read);
    ``review_reason``: why the message needs a person, or None."""

    language: str | None
    confidence: float
    review_reason: str | None


_UNREAD = LanguageVerdict(None, 0.0, None)


@dataclass(frozen=True)
class _Tables:
    """py3langid's shipped model: byte automaton and naive Bayes tables."""

    # Python sequences for the walk text by text (indexing them is fast in Python) ...
    nextmove: Sequence[int]
    rowbase: list[int]
    output: list[int]
    # ... and the same as arrays for the batch walk (``nextmove_array`` shares the memory).
    nextmove_array: NDArray[np.unsignedinteger[Any]]
    rowbase_array: NDArray[np.int64]
    output_array: NDArray[np.int32]
    ptc: NDArray[np.float16]
    pc: NDArray[np.float32]
    classes: tuple[str, ...]


@functools.cache
def _tables() -> _Tables:
    """Loaded once per process (about 0.6 s: the model is LZMA-compressed)."""
    model = _Py3Langid.from_model_file(MODEL_FILE, norm_probs=True)
    rowbase = [row << 8 for row in model.tk_row]
    return _Tables(
        nextmove=model.tk_nextmove,
        rowbase=rowbase,
        output=list(model.tk_output),
        nextmove_array=np.frombuffer(model.tk_nextmove, dtype=f"u{model.tk_nextmove.itemsize}"),
        rowbase_array=np.asarray(rowbase, dtype=np.int64),
        output_array=np.asarray(model.tk_output, dtype=np.int32),
        ptc=np.asarray(model.nb_ptc),
        pc=np.asarray(model.nb_pc, dtype=np.float32),
        classes=tuple(str(label) for label in model.nb_classes),
    )


def known_languages() -> frozenset[str]:
    """Every code the identifier can answer."""
    return frozenset(_tables().classes)


def readable(text: str, max_chars: int) -> str:
    """The text the identifier reads: no links, e-mail addresses, handles, digits, emoji
    or symbols, spaces collapsed, at most ``max_chars`` characters."""
    text = text[: 4 * max_chars]  # bounds the cost of a huge post; the language shows early
    if "@" in text:
        text = _AT_WORD.sub(" ", text)
    if _MAYBE_URL.search(text):
        text = _URL.sub(" ", text)
    return " ".join(_NOISE.sub(" ", text).split())[:max_chars]


def _letters(text: str) -> int:
    return len(_NOT_LETTERS.sub("", text))


def encode(text: str) -> bytes:
    """As py3langid reads a text: all-capitals lowered, NFC, UTF-8."""
    if text.isupper():
        text = text.lower()
    return unicodedata.normalize("NFC", text).encode("utf-8", errors="surrogatepass")


class LanguageIdentifier:
    """Names the language of a batch of texts among ``policy.candidates``."""

    def __init__(self, policy: LanguagePolicy) -> None:
        tables = _tables()
        unknown = sorted(set(policy.candidates) - set(tables.classes))
        if unknown:
            raise LanguageSetupError(f"language codes the identifier does not know: {', '.join(unknown)}")
        untrained = sorted(set(policy.trained) - set(policy.candidates))
        if untrained:
            raise LanguageSetupError(f"trained languages missing from the candidates: {', '.join(untrained)}")
        self.policy = policy
        self._tables = tables
        wanted = set(policy.candidates)
        columns = [column for column, label in enumerate(tables.classes) if label in wanted]
        self._ptc = np.ascontiguousarray(tables.ptc[:, columns], dtype=np.float32)
        self._pc = tables.pc[columns]
        # One output per language; a language with two columns (two scripts) adds them up.
        self.labels = tuple(dict.fromkeys(tables.classes[column] for column in columns))
        label_of_column = [self.labels.index(tables.classes[column]) for column in columns]
        self._merge: NDArray[np.float32] | None = None
        if len(columns) > len(self.labels):
            self._merge = np.zeros((len(columns), len(self.labels)), dtype=np.float32)
            self._merge[np.arange(len(columns)), label_of_column] = 1.0
        self._trained = [label in policy.trained for label in self.labels]
        # The prior, added to each column's log-probability: the same as multiplying the
        # probabilities by it and normalising again.
        self._log_prior = np.log(
            np.array([policy.trained_prior if self._trained[label] else 1.0 for label in label_of_column])
        ).astype(np.float32)
        self._no_prior = np.zeros(len(columns), dtype=np.float32)
        # Found at the first ``min_letters`` letters, without counting the rest.
        self._enough_letters = re.compile(rf"[^\W\d_](?:[\W\d_]*[^\W\d_]){{{max(policy.min_letters - 1, 0)}}}")

    def identify(self, text: str) -> LanguageVerdict:
        return self.identify_batch([text])[0]

    def identify_batch(self, texts: Sequence[str]) -> list[LanguageVerdict]:
        """One verdict per text, in order; the texts worth reading are scored together."""
        verdicts: list[LanguageVerdict] = []
        to_score: list[int] = []
        encoded: list[bytes] = []
        for row, text in enumerate(texts):
            words = readable(text, self.policy.max_chars)
            if self._enough_letters.search(words) is not None:
                to_score.append(row)
                encoded.append(encode(words))
                verdicts.append(_UNREAD)  # replaced below
            elif not text.strip():
                verdicts.append(LanguageVerdict(None, 0.0, EMPTY_TEXT))
            else:
                verdicts.append(LanguageVerdict(None, 0.0, TOO_SHORT if _letters(words) else NO_WORDS))
        if encoded:
            posterior = self._posterior(encoded, self._log_prior)
            best = posterior.argmax(axis=1)
            confidence = posterior[np.arange(len(best)), best].astype(np.float64).round(4)
            for row, label, probability in zip(to_score, best.tolist(), confidence.tolist(), strict=True):
                verdicts[row] = self._verdict(label, probability)
        return verdicts

    def _verdict(self, best: int, confidence: float) -> LanguageVerdict:
        language = self.labels[best]
        if confidence < self.policy.min_confidence:
            # No language stands out (a few words): to review only when the likeliest
            # candidate is a language the model was not trained on.
            return LanguageVerdict(None, confidence, None if self._trained[best] else LANGUAGE_UNCERTAIN)
        if not self._trained[best]:
            return LanguageVerdict(language, confidence, f"{NOT_TRAINED}:{language}")
        return LanguageVerdict(language, confidence, None)

    def probabilities(self, encoded: Sequence[bytes]) -> NDArray[np.float32]:
        """Each text's probability of each of ``labels`` (rows sum to 1), as py3langid's
        ``rank`` with ``norm_probs`` on the same bytes (no prior)."""
        return self._posterior(encoded, self._no_prior)

    def _posterior(self, encoded: Sequence[bytes], log_prior: NDArray[np.float32]) -> NDArray[np.float32]:
        lengths = np.fromiter((len(data) for data in encoded), dtype=np.int64, count=len(encoded))
        if lengths.size and lengths.sum() > _VECTOR_WALK_FACTOR * lengths.max():
            scores = self._scores_batch(encoded, lengths)
        else:
            scores = self._scores_each(encoded)
        # py3langid's normalisation: log-probabilities over the square root of the length.
        scores *= (1.0 / np.sqrt(np.maximum(lengths, 1))).astype(np.float32)[:, None]
        scores += log_prior
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        return scores if self._merge is None else scores @ self._merge

    def _scores_each(self, encoded: Sequence[bytes]) -> NDArray[np.float32]:
        """Naive Bayes log-posteriors, walking the automaton in Python text by text: cheapest
        for a few texts. A text with no feature at all scores 0 everywhere, as in py3langid."""
        nextmove, rowbase, output = self._tables.nextmove, self._tables.rowbase, self._tables.output
        scores = np.zeros((len(encoded), len(self._pc)), dtype=np.float32)
        for row, data in enumerate(encoded):
            found = []
            state = 0
            for byte in data:
                state = nextmove[rowbase[state] + byte]
                feature = output[state]
                if feature >= 0:
                    found.append(feature)
            if found:
                counts = Counter(found)
                weights = np.log1p(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
                scores[row] = weights @ self._ptc[list(counts)] + self._pc
        return scores

    def _scores_batch(self, encoded: Sequence[bytes], lengths: NDArray[np.int64]) -> NDArray[np.float32]:
        """The same for a batch, walking the automaton in NumPy."""
        rows, features = self._walk_batch(encoded, lengths)
        counts = sparse.csr_matrix(
            (np.ones(rows.size, dtype=np.float32), (rows, features)),
            shape=(len(encoded), self._ptc.shape[0]),
        )  # repeated (text, feature) pairs add up
        np.log1p(counts.data, out=counts.data)
        scores = np.asarray(counts @ self._ptc, dtype=np.float32) + self._pc
        scores[np.diff(counts.indptr) == 0] = 0.0
        return scores

    def _walk_batch(
        self, encoded: Sequence[bytes], lengths: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """The automaton in NumPy, one byte position at a time for every text still that long."""
        tables = self._tables
        order = np.argsort(-lengths, kind="stable")
        sorted_lengths = lengths[order]
        longest = int(sorted_lengths[0])
        # bytes[position, rank]: the byte at that position of the rank-th longest text.
        flat = np.frombuffer(b"".join(encoded[int(row)] for row in order), dtype=np.uint8)
        by_position = np.zeros((longest, len(encoded)), dtype=np.uint8)
        ranks = np.repeat(np.arange(len(encoded)), sorted_lengths)
        starts = np.repeat(np.cumsum(sorted_lengths) - sorted_lengths, sorted_lengths)
        by_position[np.arange(flat.size) - starts, ranks] = flat
        # How many texts are longer than each position: those are the first ranks.
        still = len(encoded) - np.cumsum(np.bincount(sorted_lengths, minlength=longest + 1))[:longest]
        nextmove, rowbase, output = tables.nextmove_array, tables.rowbase_array, tables.output_array
        state = np.zeros(len(encoded), dtype=np.int64)
        emitted: list[NDArray[np.int32]] = []
        for position, active in enumerate(still.tolist()):
            offsets = rowbase[state[:active]]
            offsets += by_position[position, :active]
            moved = nextmove[offsets]
            state[:active] = moved
            emitted.append(output[moved])
        # Position by position, each position's ranks from 0: back to (rank, feature) pairs.
        features = np.concatenate(emitted)
        position_starts = np.repeat(np.cumsum(still) - still, still)
        hit = np.flatnonzero(features >= 0)
        return order[hit - position_starts[hit]], features[hit].astype(np.int64)


@functools.cache
def identifier_for(policy: LanguagePolicy) -> LanguageIdentifier:
    """One identifier per policy and process (its restricted tables take about 10 MB)."""
    return LanguageIdentifier(policy)


__all__ = [
    "DEFAULT_CANDIDATES",
    "DEFAULT_TRAINED",
    "EMPTY_TEXT",
    "LANGUAGE_UNCERTAIN",
    "NOT_TRAINED",
    "NO_WORDS",
    "TOO_SHORT",
    "LanguageIdentifier",
    "LanguagePolicy",
    "LanguageSetupError",
    "LanguageVerdict",
    "encode",
    "identifier_for",
    "known_languages",
    "readable",
]
