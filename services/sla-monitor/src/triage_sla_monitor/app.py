"""Kafka wiring of the sla-monitor service: the monitor's pieces put together.

``monitor`` turns inputs into clock changes, ``recovery`` keeps the clocks on the
compacted state topic and moves them with the consumer group's partitions, ``timers``
fires due alerts, ``views`` serves /wait-times. Calendars, targets and alert fractions
come from the routing policy file the router reads (``TRIAGE_SLA_MONITOR_POLICY_FILE``).
"""

import asyncio

from aiokafka.admin import AIOKafkaAdminClient

from triage_runtime.delivery import one_at_a_time
from triage_runtime.kafka import ensure_topics
from triage_runtime.logs import log_event
from triage_runtime.service import Service, ServiceRuntime
from triage_sla_monitor.config import PolicyFileError, SlaMonitorSettings, load_clock_policy
from triage_sla_monitor.monitor import Monitor
from triage_sla_monitor.recovery import ClockPartitions, ClockState
from triage_sla_monitor.timers import AlertTimer
from triage_sla_monitor.views import wait_times_route


async def check_partitions(settings: SlaMonitorSettings) -> None:
    """The join by partition needs the same partition count on the three topics."""
    await ensure_topics(settings.kafka, settings.topics)
    admin = AIOKafkaAdminClient(**settings.kafka.admin_client_kwargs())
    await admin.start()
    try:
        names = [settings.topics.routed, settings.topics.conversation_events, settings.topics.sla_state]
        counts = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(names)}
    finally:
        await admin.close()
    if len(set(counts.values())) != 1:
        listed = ", ".join(f"{name} has {count}" for name, count in counts.items())
        raise SystemExit(
            "sla-monitor: the routed, conversation-events and sla-state topics need the same number "
            f"of partitions ({listed})"
        )


def build(settings: SlaMonitorSettings) -> ServiceRuntime:
    service = Service.create("sla-monitor", settings)
    try:
        policy = load_clock_policy(settings.policy_file)
    except PolicyFileError as error:
        raise SystemExit(f"sla-monitor: {error} (TRIAGE_SLA_MONITOR_POLICY_FILE)") from None
    log_event(
        service.logger, "policy_loaded", version=policy.version,
        file=str(settings.policy_file or "(built-in defaults)"), calendars=sorted(policy.calendars),
    )  # fmt: skip
    monitor = Monitor(settings, policy, service.logger)
    clock_state = ClockState(monitor)
    timer = AlertTimer(monitor, clock_state)
    asyncio.run(check_partitions(settings))
    service.consume(
        [settings.topics.routed, settings.topics.conversation_events],
        one_at_a_time(monitor.on_input),
        extra=clock_state.persist,
        listener=ClockPartitions(clock_state, settings.topics.routed),
        co_partitioned=True,
        gather_ms=settings.gather_ms,
    )
    return service.runtime(
        routes=[wait_times_route(monitor.figures)],
        on_startup=[monitor.start, timer.start],
        on_shutdown=[timer.stop, monitor.stop],
    )
