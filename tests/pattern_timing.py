"""Shared by the time-fuzz tests of every configurable pattern (PII, guardrails, keyword
triggers): text builders at the longest accepted length, and the worst time over them.

The bound is generous (a few milliseconds is typical) so a busy shared CI machine does
not fail a test; a backtracking engine takes seconds on these texts, so the test still
tells the two apart."""

import time
from collections.abc import Callable, Iterator

MAX_CHARS = 20_000
"""The longest text ingest accepts (TRIAGE_INGEST_MAX_TEXT_CHARS' default)."""
BOUND_SECONDS = 0.050


def fill(unit: str, length: int = MAX_CHARS, tail: str = "") -> str:
    """``unit`` repeated to ``length`` characters, ending with ``tail``."""
    body = unit * ((length - len(tail)) // max(len(unit), 1) + 1)
    return body[: length - len(tail)] + tail


def timed(check: Callable[[str], object], text: str) -> float:
    """The best of three runs, so one scheduler hiccup does not count."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        check(text)
        best = min(best, time.perf_counter() - start)
    return best


def slowest(check: Callable[[str], object], texts: Iterator[tuple[str, str]]) -> tuple[float, str, int]:
    """The worst time over ``texts`` (name, text): (seconds, its name, how many texts)."""
    worst, worst_name, count = 0.0, "", 0
    for name, text in texts:
        assert len(text) <= MAX_CHARS
        elapsed = timed(check, text)
        count += 1
        if elapsed > worst:
            worst, worst_name = elapsed, name
    return worst, worst_name, count
