"""Kafka wiring of the router service."""

from triage_router.config import RouterSettings
from triage_schemas.kafka import make_broker
from triage_schemas.logs import configure_logging
from triage_schemas.service import ServiceRuntime


def build(settings: RouterSettings) -> ServiceRuntime:
    logger = configure_logging("router", settings.log_level)
    broker = make_broker(settings.kafka, client_id="triage-router", logger=logger)
    return ServiceRuntime("router", settings, broker, logger)
