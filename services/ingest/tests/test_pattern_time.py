"""No text ingest accepts can make its personal-data patterns slow: RE2 runs them in time
linear in the text, whatever the text (issue 13: one 1.5 KB message froze ingest for 29.5 s)."""

import re
from collections.abc import Iterator

from tests.pattern_timing import BOUND_SECONDS, fill, slowest, timed
from triage_ingest.config import IngestSettings
from triage_ingest.pii import PiiDetector
from triage_schemas.enums import PiiKind

SETTINGS = IngestSettings()
MAX_CHARS = SETTINGS.max_text_chars


def adversarial_texts(pattern: str) -> Iterator[tuple[str, str]]:
    """Texts of the longest accepted length built to make a backtracking engine stall:
    each literal of ``pattern`` followed by long runs that almost continue it, repeated
    prefixes and near-matches, and long runs of one character class."""
    literals = set(re.findall(r"[^\W\d_]{2,}", pattern)) | {"#", "n°", "nº", "@", "+"}
    for literal in sorted(literals):
        for run in (" ", "1", "a", "#", "-", ".", ":", " #", "\u00a0"):
            yield f"{literal!r} then {run!r}s", literal + fill(run, MAX_CHARS - len(literal), tail="x")
        yield f"{literal!r} repeated", fill(literal + " ")
        yield f"{literal!r} prefixes", fill(literal[:-1] or literal)
        yield f"{literal!r} near-misses", fill(f"{literal} #AB-123 {literal} no. ")
        yield f"{literal!r} then digits", literal + " " + fill("1", MAX_CHARS - len(literal) - 1, tail="x")
    for unit in (" ", "1", "a", "é", "1 ", "1.", "a.", "a@", "a@a.", "+1 ", "(1) ", "1-", "1,", "x1", "_"):
        yield f"{unit!r} run", fill(unit)
    yield "email-like run", "a@" + fill("a.", MAX_CHARS - 3) + "1"


def test_every_default_pattern_stays_fast_on_adversarial_text() -> None:
    detector = PiiDetector(SETTINGS.order_number_pattern)
    worst, name, count = slowest(detector.kinds, adversarial_texts(SETTINGS.order_number_pattern))
    print(f"\ningest PII: worst of {count} adversarial {MAX_CHARS:,}-char texts: {worst * 1000:.2f} ms ({name})")
    assert worst < BOUND_SECONDS, f"{name} took {worst * 1000:.0f} ms"


def test_the_message_that_froze_ingest_is_read_at_once() -> None:
    detector = PiiDetector(SETTINGS.order_number_pattern)
    for spaces in (400, 1_200, 1_500, MAX_CHARS - 6):
        text = "order" + " " * spaces + "x"
        elapsed = timed(detector.kinds, text)
        assert elapsed < BOUND_SECONDS, f"{spaces} spaces took {elapsed * 1000:.0f} ms"
        assert detector.kinds(text) == []
    # Still an order number when the digits do come.
    assert detector.kinds("order" + " " * 1_500 + "#NW-48213") == [PiiKind.ORDER_NUMBER]


def test_a_pattern_a_backtracking_engine_cannot_finish_is_fast_too() -> None:
    """Safety comes from the engine, not from the shipped pattern: a care lead's own
    nested-quantifier pattern is still linear."""
    detector = PiiDetector(r"(\d+\s*)+#")
    elapsed = timed(detector.kinds, fill("1 "))
    assert elapsed < BOUND_SECONDS, f"{elapsed * 1000:.0f} ms"
