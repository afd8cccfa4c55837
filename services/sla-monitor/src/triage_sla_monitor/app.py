"""Kafka wiring of the sla-monitor service."""

from triage_schemas.kafka import make_broker
from triage_schemas.logs import configure_logging
from triage_schemas.service import ServiceRuntime
from triage_sla_monitor.config import SlaMonitorSettings


def build(settings: SlaMonitorSettings) -> ServiceRuntime:
    logger = configure_logging("sla-monitor", settings.log_level)
    broker = make_broker(settings.kafka, client_id="triage-sla-monitor", logger=logger)
    return ServiceRuntime("sla-monitor", settings, broker, logger)
