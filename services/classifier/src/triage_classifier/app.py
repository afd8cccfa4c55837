"""Kafka wiring of the classifier service."""

import collections
from collections.abc import Sequence
from functools import partial

from prometheus_client import Counter, Gauge, Histogram

from triage_classifier.classify import Classifier
from triage_classifier.config import ClassifierSettings
from triage_classifier.loader import load_classifier
from triage_classifier.records_io import classify_batch
from triage_runtime.contract import Contract, Reads, Writes, dead_letters, record
from triage_runtime.delivery import Inbound, Result
from triage_runtime.logs import log_event
from triage_runtime.service import Service, ServiceRuntime
from triage_schemas.records import ClassifiedMessage, SocialMessage

CLASSIFIED = Counter(
    "triage_classifier_classified",
    "Messages classified, by issue type, lane, priority and whether a person should review them",
    ["issue_type", "lane", "priority", "needs_review"],
)
GUARDRAIL_PROMOTIONS = Counter(
    "triage_classifier_guardrail_promotions",
    "Messages a guardrail promoted above the model's answer, by issue type",
    ["issue_type"],
)
MODEL_INFO = Gauge("triage_classifier_model_info", "The loaded model (value 1)", ["model_version"])
# Drift: what a care lead watches week over week to know the model needs the team's corrections.
CONFIDENCE = Histogram(
    "triage_classifier_confidence",
    "The model's confidence in the issue type it chose, by lane",
    ["lane"],
    buckets=(0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0),
)
REVIEW_REASONS = Counter(
    "triage_classifier_review_reasons", "Why messages were flagged for review (a message may have several)", ["reason"]
)
LANGUAGES = Counter("triage_classifier_languages", "Messages by identified language (unknown: not named)", ["language"])


def _counted(classifier: Classifier, classified_topic: str, batch: Sequence[Inbound]) -> list[Result]:
    results = classify_batch(classifier, classified_topic, batch)
    # Tallied per batch, then one update per label set: a labels() lookup per message and
    # metric cost as much as a tenth of the classification itself.
    classified: collections.Counter[tuple[str, str, str, str]] = collections.Counter()
    promoted: collections.Counter[str] = collections.Counter()
    languages: collections.Counter[str] = collections.Counter()
    reasons: collections.Counter[str] = collections.Counter()
    confidence_by_lane: dict[str, Histogram] = {}
    for result in results:
        if isinstance(result, Sequence):
            for out in result:
                if isinstance(out.record, ClassifiedMessage):
                    c = out.record.classification
                    classified[c.issue_type.value, c.lane.value, c.priority.value, str(c.needs_review).lower()] += 1
                    if c.reasons:
                        promoted[c.issue_type.value] += 1
                    histogram = confidence_by_lane.get(c.lane.value)
                    if histogram is None:
                        histogram = confidence_by_lane[c.lane.value] = CONFIDENCE.labels(c.lane.value)
                    histogram.observe(c.confidence)
                    languages[c.language or "unknown"] += 1
                    for reason in c.review_reasons:
                        # language_not_trained:de -> language_not_trained: the label set stays bounded
                        reasons[reason.partition(":")[0]] += 1
    for labels, count in classified.items():
        CLASSIFIED.labels(*labels).inc(count)
    for issue_type, count in promoted.items():
        GUARDRAIL_PROMOTIONS.labels(issue_type).inc(count)
    for language, count in languages.items():
        LANGUAGES.labels(language).inc(count)
    for reason, count in reasons.items():
        REVIEW_REASONS.labels(reason).inc(count)
    return results


def build(settings: ClassifierSettings, classifier: Classifier | None = None) -> ServiceRuntime:
    service = Service.create("classifier", settings)
    # Loaded once, before connecting, so a missing model stops the service at start.
    classifier = classifier or load_classifier(settings)
    MODEL_INFO.labels(classifier.version).set(1)
    log_event(
        service.logger,
        "model_loaded",
        model_version=classifier.version,
        taxonomy_version=classifier.taxonomy.version,
        guardrails_version=classifier.guardrails.version,
    )
    service.consume(
        settings.topics.messages,
        partial(_counted, classifier, settings.topics.classified),
        max_records=settings.batch_size,
    )
    return service.runtime(contract=contract(settings))


def contract(settings: ClassifierSettings) -> Contract:
    """What the classifier reads and writes (its AsyncAPI document, ``triage_runtime.contract``)."""
    topics = settings.topics
    return Contract(
        reads=[Reads(topics.messages, [record(SocialMessage)], "Normalised messages, classified in batches.")],
        writes=[
            Writes(topics.classified, [record(ClassifiedMessage)], "Each message with its classification."),
            dead_letters(topics.dlq),
        ],
    )
