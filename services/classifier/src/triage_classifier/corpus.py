"""The labelled corpus: reading it, and the one fixed train/test split.

Lines exported from people's corrections (``data/corrections/*.jsonl``, see
``triage_classifier.corrections``) are held apart in ``Corpus.corrections``: they are
always train, never test, whatever their id.
"""

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from triage_schemas.enums import IssueType, SentimentLabel

DEFAULT_CORPUS_DIR = Path(__file__).resolve().parents[2] / "data" / "corpus"
# Corrections reviewed by the care lead and committed: train-only examples.
DEFAULT_CORRECTIONS_DIR = Path(__file__).resolve().parents[2] / "data" / "corrections"

Split = Literal["train", "test"]
Source = Literal["corpus", "correction"]
TEST_SHARE_PERCENT = 20


class Example(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    lang: str
    text: str
    issue_type: IssueType
    # Always set on a corpus line (the reader refuses one without); a correction that did
    # not correct the sentiment has none, and the sentiment head does not learn from it.
    sentiment: SentimentLabel | None = None
    platform: str | None = None
    channel: str | None = None
    # Provenance: a hand-written corpus line, or a person's correction of the model
    # (who corrected it, on which day, and when exactly: the latest correction of a text wins).
    source: Source = "corpus"
    agent: str | None = None
    date: dt.date | None = None
    corrected_at: AwareDatetime | None = None


@dataclass(frozen=True)
class CorpusProblem:
    file: Path
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file.name}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class Corpus:
    """The corpus lines (``examples``, split by id) and the corrections added to train.

    ``correction_notes`` says which correction lines were not used and why (a text
    already in the corpus, or corrected again later)."""

    examples: list[Example]
    problems: list[CorpusProblem]
    files: list[Path]
    corrections: list[Example] = field(default_factory=list)
    correction_files: list[Path] = field(default_factory=list)
    correction_notes: list[str] = field(default_factory=list)

    def split(self, which: Split) -> list[Example]:
        """A split of the corpus lines; train also holds every correction, test never does."""
        own = [example for example in self.examples if split_of(example.id) == which]
        return own + self.corrections if which == "train" else own

    def without_corrections(self) -> "Corpus":
        return replace(self, corrections=[], correction_files=[], correction_notes=[])

    def digest(self) -> str:
        """A hash of the corpus files and of the correction files, when there are any
        (without them it is the corpus's own, so adding none changes no model version)."""
        own = corpus_digest(self.files)
        if not self.correction_files:
            return own
        return hashlib.sha256(f"{own}\0corrections\0{corpus_digest(self.correction_files)}".encode()).hexdigest()


def split_of(example_id: str) -> Split:
    """Train or test, decided by the id alone, so the split never moves when lines are
    added, reordered or files renamed."""
    bucket = int.from_bytes(hashlib.sha256(example_id.encode("utf-8")).digest()[:8], "big") % 100
    return "test" if bucket < TEST_SHARE_PERCENT else "train"


def corpus_files(corpus_dir: Path) -> list[Path]:
    return sorted(corpus_dir.glob("*.jsonl"))


def _read(path: Path) -> Iterator[tuple[int, Example | CorpusProblem]]:
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                example = Example.model_validate(json.loads(line))
            except ValueError as error:
                reason = "not JSON" if not isinstance(error, ValidationError) else _first_error(error)
                yield number, CorpusProblem(path, number, reason)
                continue
            problem = _corpus_line_problem(example)
            yield number, example if problem is None else CorpusProblem(path, number, problem)


def _corpus_line_problem(example: Example) -> str | None:
    if example.source != "corpus":
        return f"source {example.source!r}: corrections go in data/corrections/, which train reads apart"
    if example.sentiment is None:
        return "sentiment: a corpus line needs one (negative, neutral or positive)"
    return None


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    return f"{'.'.join(map(str, first['loc'])) or '(line)'}: {first['msg']}"


def load_corpus(corpus_dir: Path = DEFAULT_CORPUS_DIR) -> Corpus:
    """Every valid line of every ``*.jsonl``; invalid lines and repeated ids are reported,
    never silently used (a repeated id would land in one split twice)."""
    files = corpus_files(corpus_dir)
    examples: list[Example] = []
    problems: list[CorpusProblem] = []
    seen: set[str] = set()
    for path in files:
        for number, item in _read(path):
            if isinstance(item, CorpusProblem):
                problems.append(item)
            elif item.id in seen:
                problems.append(CorpusProblem(path, number, f"id {item.id} repeated; line skipped"))
            else:
                seen.add(item.id)
                examples.append(item)
    return Corpus(examples, problems, files)


def corpus_digest(files: Iterable[Path]) -> str:
    """A hash of the corpus content (file names and bytes)."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.name.encode("utf-8") + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()
