"""The fixed train/test split and the corpus reader."""

import json
from collections import Counter
from pathlib import Path

from triage_classifier.corpus import DEFAULT_CORPUS_DIR, load_corpus, split_of
from triage_schemas.enums import IssueType


def _line(example_id: str, issue_type: str = "feedback", **extra: object) -> str:
    record: dict[str, object] = {"id": example_id, "lang": "en", "text": f"text {example_id}", "issue_type": issue_type}
    record.setdefault("sentiment", "neutral")
    record.update(extra)
    return json.dumps(record) + "\n"


def test_split_depends_on_the_id_only_not_on_order_or_file(tmp_path: Path) -> None:
    ids = [f"en-x-{n:04d}" for n in range(400)]
    first = tmp_path / "a"
    second = tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "one.jsonl").write_text("".join(_line(i) for i in ids), encoding="utf-8")
    # Same lines, reversed and spread over two files with new lines added.
    (second / "x.jsonl").write_text("".join(_line(i) for i in reversed(ids[:200])), encoding="utf-8")
    (second / "y.jsonl").write_text("".join(_line(i) for i in [*ids[200:], "en-x-9999"]), encoding="utf-8")
    before = {e.id for e in load_corpus(first).split("test")}
    after = {e.id for e in load_corpus(second).split("test")}
    assert after - {"en-x-9999"} == before


def test_about_a_fifth_of_ids_go_to_test() -> None:
    shares = Counter(split_of(f"fr-a-{n:04d}") for n in range(5000))
    assert 0.17 < shares["test"] / 5000 < 0.23


def test_bad_lines_and_repeated_ids_are_reported_not_used(tmp_path: Path) -> None:
    (tmp_path / "c.jsonl").write_text(
        _line("en-a-0001")
        + "{not json\n"
        + _line("en-a-0002", issue_type="complaint")
        + _line("en-a-0001")
        + "\n"
        + _line("en-a-0003", issue_type="spam"),
        encoding="utf-8",
    )
    corpus = load_corpus(tmp_path)
    assert [e.id for e in corpus.examples] == ["en-a-0001", "en-a-0003"]
    reasons = [str(problem) for problem in corpus.problems]
    assert reasons[0] == "c.jsonl:2: not JSON"
    assert reasons[1].startswith("c.jsonl:3: issue_type")
    assert reasons[2] == "c.jsonl:4: id en-a-0001 repeated; line skipped"


def test_the_project_corpus_has_every_issue_type_in_its_test_split() -> None:
    corpus = load_corpus(DEFAULT_CORPUS_DIR)
    assert not corpus.problems, [str(p) for p in corpus.problems[:5]]
    assert {e.issue_type for e in corpus.split("test")} == set(IssueType)
