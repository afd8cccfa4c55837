"""No text can make the guardrails slow: RE2 runs every rule's patterns in time linear in
the text, whatever the text, up to the longest text the pipeline accepts."""

import itertools
import re
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

from tests.pattern_timing import BOUND_SECONDS, MAX_CHARS, fill, slowest, timed
from triage_classifier.guardrails import DEFAULT_GUARDRAILS, load_guardrails

# The longest text ingest lets through (TRIAGE_INGEST_MAX_TEXT_CHARS); the classifier
# clips before the guardrails, but a deployment may raise that clip.


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
        yield f"{word!r} then spaces", triggers + word + fill(" ", length - len(word) - 1) + "x"
        yield f"{word!r} prefixes", triggers + fill(word[:-1] + " ", length)
    for pair in sorted(pairs):
        yield f"{pair!r} repeated", triggers + fill(pair + " ", length)
    for unit in (" ", "a", "é", "1", ".", "'", "a ", "my ", "\u00a0", "😍"):
        yield f"{unit!r} run", triggers + fill(unit, length)


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
    text = "hate" + fill(" you", MAX_CHARS - 5) + "?"
    elapsed = timed(guardrails.signals, text)
    assert guardrails.signals(text) == []
    assert elapsed < BOUND_SECONDS, f"{elapsed * 1000:.0f} ms"
