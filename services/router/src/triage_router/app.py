"""Kafka wiring of the router service."""

from collections.abc import Sequence
from functools import partial

from prometheus_client import Counter

from triage_router.config import RouterSettings
from triage_router.policy import RoutingPolicy, load_policy
from triage_router.records_io import route_inbound
from triage_runtime.delivery import Inbound, Outbound, one_at_a_time
from triage_runtime.logs import log_event
from triage_runtime.service import Service, ServiceRuntime

ROUTED = Counter(
    "triage_router_routed",
    "Messages routed, by lane, escalation tier and reply mode",
    ["lane", "tier", "reply_mode"],
)


def _counted(policy: RoutingPolicy, routed_topic: str, inbound: Inbound) -> Sequence[Outbound]:
    outputs = route_inbound(policy, routed_topic, inbound)
    for out in outputs:
        routing = getattr(out.record, "routing", None)
        classification = getattr(out.record, "classification", None)
        if routing is not None and classification is not None:
            ROUTED.labels(str(classification.lane), str(int(routing.tier)), str(routing.reply_mode)).inc()
    return outputs


def build(settings: RouterSettings, policy: RoutingPolicy | None = None) -> ServiceRuntime:
    service = Service.create("router", settings)
    # Loaded before connecting so a broken policy stops the service at start.
    policy = policy or load_policy(settings.policy_file)
    log_event(service.logger, "policy_loaded", version=policy.version, file=str(settings.policy_file))
    process = one_at_a_time(partial(_counted, policy, settings.topics.routed))
    service.consume(settings.topics.classified, process, max_records=settings.batch_size)
    return service.runtime()
