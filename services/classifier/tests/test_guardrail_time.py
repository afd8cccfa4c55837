"""No text can make the guardrails slow: RE2 runs every rule's patterns in time linear in
the text, whatever the text, up to the longest text the pipeline accepts."""

import itertools
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import yaml

from triage_classifier.guardrails import DEFAULT_GUARDRAILS, load_guardrails

# The longest text ingest lets through (TRIAGE_INGEST_MAX_TEXT_CHARS); the classifier
# clips before the guardrails, but a deployment may raise that clip.
MAX_CHARS = 20_000
# A few milliseconds is typical; the bound leaves room for a busy shared CI machine.
BOUND_SECONDS = 0.050


def _fill(unit: str, length: int) -> str:
    return (unit * (length // max(len(unit), 1) + 1))[:length]


def adversarial_texts(path: Path = DEFAULT_GUARDRAILS) -> Iterator[tuple[str, str]]:
    """Texts of MAX_CHARS that hold every rule's triggers (so every pattern is tried) and
    then long runs built from the patterns' own words: each word followed by spaces, each
    pair of words a pattern chains (a near-match missing its end), repeated prefixes,
    and runs of one character class."""
    rules = yaml.safe_load(path.read_text(encoding="utf-8"))["rules"]
    triggers = " ".join(trigger for rule in rules for trigger in rule["triggers"]) + " "
    length = MAX_CHARS - len(triggers)
    words: set[str] = set()
    pairs: set[str] = set()
    for rule in rules:
        for pattern in rule["patterns"]:
            found = re.findall(r"[a-z']{2,}", re.sub(r"\\[a-zA-Z]", " ", pattern))
            words.update(found)
            pairs.update(f"{a} {b}" for a, b in itertools.pairwise(found))
    for word in sorted(words):
        yield f"{word!r} then spaces", triggers + word + _fill(" ", length - len(word) - 1) + "x"
        yield f"{word!r} prefixes", triggers + _fill(word[:-1] + " ", length)
    for pair in sorted(pairs):
        yield f"{pair!r} repeated", triggers + _fill(pair + " ", length)
    for unit in (" ", "a", "é", "1", ".", "'", "a ", "my ", "\u00a0", "😍"):
        yield f"{unit!r} run", triggers + _fill(unit, length)


def slowest(check: Callable[[str], object], texts: Iterator[tuple[str, str]]) -> tuple[float, str, int]:
    """The worst time (best of three runs, so one scheduler hiccup does not count) over ``texts``."""
    worst, worst_name, count = 0.0, "", 0
    for name, text in texts:
        assert len(text) <= MAX_CHARS
        elapsed = min(_timed(check, text) for _ in range(3))
        count += 1
        if elapsed > worst:
            worst, worst_name = elapsed, name
    return worst, worst_name, count


def _timed(check: Callable[[str], object], text: str) -> float:
    start = time.perf_counter()
    check(text)
    return time.perf_counter() - start


def test_every_shipped_rule_stays_fast_on_adversarial_text() -> None:
    guardrails = load_guardrails()
    worst, name, count = slowest(guardrails.signals, adversarial_texts())
    print(f"\nguardrails: worst of {count} adversarial {MAX_CHARS:,}-char texts: {worst * 1000:.2f} ms ({name})")
    assert worst < BOUND_SECONDS, f"{name} took {worst * 1000:.0f} ms"


def test_the_batch_lookup_stays_fast_too() -> None:
    guardrails = load_guardrails()
    texts = [text for _, text in adversarial_texts()][:200]
    start = time.perf_counter()
    guardrails.signals_batch(texts)
    per_text = (time.perf_counter() - start) / len(texts)
    assert per_text < BOUND_SECONDS, f"{per_text * 1000:.0f} ms per text"


def test_a_pattern_a_backtracking_engine_cannot_finish_is_fast_too(tmp_path: Path) -> None:
    """Safety comes from the engine, not from review: a reviewer's nested quantifier
    (seconds per message under Python's re) is still linear."""
    path = tmp_path / "g.yaml"
    path.write_text(
        "version: t\nrules:\n  - id: r1\n    issue_type: harassment\n    triggers: [hate]\n"
        "    patterns: ['hate(\\s*\\w+\\s*)*!$']\n",
        encoding="utf-8",
    )
    guardrails = load_guardrails(path)
    text = "hate" + _fill(" you", MAX_CHARS - 5) + "?"
    elapsed = min(_timed(guardrails.signals, text) for _ in range(3))
    assert guardrails.signals(text) == []
    assert elapsed < BOUND_SECONDS, f"{elapsed * 1000:.0f} ms"
