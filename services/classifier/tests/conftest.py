"""A model trained on a tiny labelled corpus, so unit tests depend neither on the real
corpus (which grows) nor on `make model`."""

from pathlib import Path

import pytest

from services.classifier.tests.classifier_support import TINY_CONFIG, write_tiny_corpus
from triage_classifier.classify import Classifier, Policy
from triage_classifier.corpus import load_corpus
from triage_classifier.guardrails import load_guardrails
from triage_classifier.model import TrainedModel
from triage_classifier.taxonomy import load_taxonomy
from triage_classifier.training import train


@pytest.fixture(scope="session")
def tiny_corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def tiny_model(tiny_corpus_dir: Path) -> TrainedModel:
    return train(load_corpus(tiny_corpus_dir), TINY_CONFIG)


@pytest.fixture
def classifier(tiny_model: TrainedModel) -> Classifier:
    return Classifier(tiny_model, load_taxonomy(), load_guardrails(), Policy())
