"""Kafka wiring of the classifier service."""

from collections.abc import Sequence
from functools import partial

from prometheus_client import Counter, Gauge

from triage_classifier.classify import Classifier
from triage_classifier.config import ClassifierSettings
from triage_classifier.loader import load_classifier
from triage_classifier.records_io import classify_batch
from triage_runtime.delivery import Inbound, Result
from triage_runtime.logs import log_event
from triage_runtime.service import Service, ServiceRuntime
from triage_schemas.records import ClassifiedMessage

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


def _counted(classifier: Classifier, classified_topic: str, batch: Sequence[Inbound]) -> list[Result]:
    results = classify_batch(classifier, classified_topic, batch)
    for result in results:
        if isinstance(result, Sequence):
            for out in result:
                if isinstance(out.record, ClassifiedMessage):
                    c = out.record.classification
                    CLASSIFIED.labels(
                        c.issue_type.value, c.lane.value, c.priority.value, str(c.needs_review).lower()
                    ).inc()
                    if c.reasons:
                        GUARDRAIL_PROMOTIONS.labels(c.issue_type.value).inc()
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
    return service.runtime()
