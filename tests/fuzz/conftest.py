"""Hypothesis profiles, the classifier model the fuzzers use, and the closing counts.

``HYPOTHESIS_PROFILE=fuzz`` runs at least 10,000 examples per command; without it a
short, derandomised profile keeps ``make test`` fast and repeatable.
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
"""Per command: inputs (non-blank lines), outputs, line errors, notes, runs, non-zero exits."""


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
    columns = ("runs", "inputs", "outputs", "line_errors", "notes", "nonzero_exits")
    terminalreporter.write_line(f"{'command':<28}" + "".join(f"{column:>14}" for column in columns))
    for command, counts in sorted(COUNTS.items()):
        terminalreporter.write_line(f"{command:<28}" + "".join(f"{counts[column]:>14,}" for column in columns))
