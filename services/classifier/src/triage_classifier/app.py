"""Kafka wiring of the classifier service."""

from collections.abc import Sequence

from prometheus_client import Counter, Gauge

from triage_classifier.classify import Classifier
from triage_classifier.config import ClassifierSettings
from triage_classifier.loader import load_classifier
from triage_classifier.records_io import classify_batch
from triage_schemas.delivery import Inbound, Result, Stage, subscribe
from triage_schemas.kafka import make_broker
from triage_schemas.logs import configure_logging, log_event
from triage_schemas.records import ClassifiedMessage
from triage_schemas.service import ServiceRuntime

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
    logger = configure_logging("classifier", settings.log_level)
    # Loaded once, before connecting, so a missing model stops the service at start.
    classifier = classifier or load_classifier(settings)
    MODEL_INFO.labels(classifier.version).set(1)
    log_event(
        logger,
        "model_loaded",
        model_version=classifier.version,
        taxonomy_version=classifier.taxonomy.version,
        guardrails_version=classifier.guardrails.version,
    )
    broker = make_broker(settings.kafka, client_id="triage-classifier", logger=logger)
    stage = Stage("classifier", broker, settings.topics.dlq, logger)
    topic = settings.topics.classified

    def process(batch: Sequence[Inbound]) -> list[Result]:
        return _counted(classifier, topic, batch)

    subscribe(
        broker,
        stage,
        settings.topics.messages,
        settings.consumer_group,
        process,
        batch=True,
        max_records=settings.batch_size,
        tuning=settings.kafka.consumer_options(),
    )
    return ServiceRuntime("classifier", settings, broker, logger)
