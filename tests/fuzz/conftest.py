"""Hypothesis profiles, the classifier model the fuzzers use, and the closing counts.

``HYPOTHESIS_PROFILE=fuzz`` runs at least 10,000 examples per command and per stage;
without it a short, derandomised profile keeps ``make test`` fast and repeatable.
"""

import os
from collections import Counter
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from services.classifier.tests.classifier_support import TINY_CONFIG, write_tiny_corpus
from triage_classifier import loader
from triage_classifier.classify import Classifier
from triage_classifier.config import ClassifierSettings
from triage_classifier.corpus import load_corpus
from triage_classifier.training import train

_RELAXED = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile(
    "short", max_examples=200, deadline=None, derandomize=True, database=None, suppress_health_check=_RELAXED
)
settings.register_profile(
    "fuzz", max_examples=10_000, deadline=None, database=None, suppress_health_check=_RELAXED, print_blob=True
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "short")
"""Applied per test (``@settings(settings.get_profile(PROFILE))``), not globally, so other
suites keep their own Hypothesis settings."""

COUNTS: dict[str, Counter[str]] = {}
"""Per command: inputs (non-blank lines), outputs, line errors, notes, runs, non-zero exits.
Per stage (``stage <name>``): batches, records, outputs, dead letters, silent records (no
output and no dead letter: skipped, a duplicate, a clock change), dead letters from a step
that raised (internal errors); for the SLA monitor also the alerts fired and those that
cannot be written."""

NOTES: dict[str, list[str]] = {}
"""A few examples of what the fuzzers counted but did not fail on, printed with the counts."""

COLUMNS = (
    ("runs", "batches"),
    ("inputs", "records"),
    ("outputs", "outputs"),
    ("line_errors", "dead_letters"),
    ("notes", "silent"),
    ("nonzero_exits", "internal_errors"),
    (None, "alerts"),
    (None, "alerts_after_2100"),
    (None, "alert_errors"),
)
"""The table's columns: a command's counter, and the stage counter shown in the same column."""


@pytest.fixture(scope="session")
def fuzz_counts() -> dict[str, Counter[str]]:
    return COUNTS


@pytest.fixture(scope="session")
def fuzz_classifier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Classifier]:
    """``triage-classifier classify`` with a tiny model, loaded once: ``main`` loads the
    model on every call, which would cost more than the classification being fuzzed."""
    corpus = write_tiny_corpus(tmp_path_factory.mktemp("fuzz-corpus"))
    model_dir = tmp_path_factory.mktemp("fuzz-models")
    train(load_corpus(corpus), TINY_CONFIG).save(model_dir)
    classifier = loader.load_classifier(ClassifierSettings(model_dir=model_dir))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loader, "load_classifier", lambda _settings: classifier)
        yield classifier


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not COUNTS or PROFILE != "fuzz":
        return
    terminalreporter.write_sep("=", f"fuzz counts (profile {PROFILE})")
    width = 19
    for row in (0, 1):
        label = ("command", "stage")[row]
        names = [pair[row] or "" for pair in COLUMNS]
        terminalreporter.write_line(f"{label:<28}" + "".join(f"{name:>{width}}" for name in names))
    for name, counts in sorted(COUNTS.items(), key=lambda item: (item[0].startswith("stage "), item[0])):
        row = 1 if name.startswith("stage ") else 0
        keys = [pair[row] for pair in COLUMNS]
        cells = [f"{counts[key]:>{width},}" if key else f"{'-':>{width}}" for key in keys]
        terminalreporter.write_line(f"{name:<28}" + "".join(cells))
    for topic, examples in sorted(NOTES.items()):
        terminalreporter.write_sep("-", f"{topic}: first {len(examples)} examples")
        for example in examples:
            terminalreporter.write_line(example)
