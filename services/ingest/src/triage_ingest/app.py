"""Kafka wiring of the ingest service."""

from triage_ingest.config import IngestSettings
from triage_schemas.kafka import make_broker
from triage_schemas.logs import configure_logging
from triage_schemas.service import ServiceRuntime


def build(settings: IngestSettings) -> ServiceRuntime:
    logger = configure_logging("ingest", settings.log_level)
    broker = make_broker(settings.kafka, client_id="triage-ingest", logger=logger)
    return ServiceRuntime("ingest", settings, broker, logger)
