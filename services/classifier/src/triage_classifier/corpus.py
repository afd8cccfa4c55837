"""The labelled corpus: reading it, and the one fixed train/test split."""

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from triage_schemas.enums import IssueType, SentimentLabel

DEFAULT_CORPUS_DIR = Path(__file__).resolve().parents[2] / "data" / "corpus"

Split = Literal["train", "test"]
TEST_SHARE_PERCENT = 20


class Example(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    lang: str
    text: str
    issue_type: IssueType
    sentiment: SentimentLabel
    platform: str | None = None
    channel: str | None = None


@dataclass(frozen=True)
class CorpusProblem:
    file: Path
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file.name}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class Corpus:
    examples: list[Example]
    problems: list[CorpusProblem]
    files: list[Path]

    def split(self, which: Split) -> list[Example]:
        return [example for example in self.examples if split_of(example.id) == which]


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
                yield number, Example.model_validate(json.loads(line))
            except ValueError as error:
                reason = "not JSON" if not isinstance(error, ValidationError) else _first_error(error)
                yield number, CorpusProblem(path, number, reason)


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
