"""Assembling a classifier from its settings: model artifact, taxonomy, guardrails."""

from triage_classifier.classify import Classifier, Policy
from triage_classifier.config import ClassifierSettings
from triage_classifier.guardrails import load_guardrails
from triage_classifier.model import load_model
from triage_classifier.taxonomy import load_taxonomy


def load_classifier(settings: ClassifierSettings) -> Classifier:
    """Everything is read once, here; a missing or broken file raises with its path."""
    return Classifier(
        model=load_model(settings.model_dir, settings.model_version),
        taxonomy=load_taxonomy(settings.taxonomy_file),
        guardrails=load_guardrails(settings.guardrails_file),
        policy=Policy(
            review_below=settings.review_below,
            max_model_chars=settings.max_model_chars,
            p1_threshold=settings.p1_threshold,
            language=settings.language_policy(),
        ),
    )
