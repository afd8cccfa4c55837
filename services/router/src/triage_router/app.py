"""Kafka wiring of the router service."""

from functools import partial

from triage_router.config import RouterSettings
from triage_router.policy import RoutingPolicy, load_policy
from triage_router.records_io import route_inbound
from triage_schemas.delivery import Stage, one_at_a_time, subscribe
from triage_schemas.kafka import make_broker
from triage_schemas.logs import configure_logging, log_event
from triage_schemas.service import ServiceRuntime


def build(settings: RouterSettings, policy: RoutingPolicy | None = None) -> ServiceRuntime:
    logger = configure_logging("router", settings.log_level)
    # Loaded before connecting so a broken policy stops the service at start.
    policy = policy or load_policy(settings.policy_file)
    log_event(logger, "policy_loaded", version=policy.version, file=str(settings.policy_file))
    broker = make_broker(settings.kafka, client_id="triage-router", logger=logger)
    stage = Stage("router", broker, settings.topics.dlq, logger)
    process = one_at_a_time(partial(route_inbound, policy, settings.topics.routed))
    subscribe(
        broker,
        stage,
        settings.topics.classified,
        settings.consumer_group,
        process,
        batch=True,
        max_records=settings.batch_size,
    )
    return ServiceRuntime("router", settings, broker, logger)
