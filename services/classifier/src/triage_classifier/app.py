"""Kafka wiring of the classifier service."""

from triage_classifier.config import ClassifierSettings
from triage_schemas.kafka import make_broker
from triage_schemas.logs import configure_logging
from triage_schemas.service import ServiceRuntime


def build(settings: ClassifierSettings) -> ServiceRuntime:
    logger = configure_logging("classifier", settings.log_level)
    broker = make_broker(settings.kafka, client_id="triage-classifier", logger=logger)
    return ServiceRuntime("classifier", settings, broker, logger)
