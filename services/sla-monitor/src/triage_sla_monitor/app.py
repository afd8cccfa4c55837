"""Kafka wiring of the sla-monitor service: the monitor's pieces put together.

``monitor`` turns inputs into clock changes, ``recovery`` keeps the clocks on the
compacted state topic and moves them with the consumer group's partitions, ``timers``
fires due alerts, ``views`` serves /wait-times. Calendars, targets and alert fractions
come from the routing policy file the router reads (``TRIAGE_SLA_MONITOR_POLICY_FILE``).
"""

import asyncio

from aiokafka.admin import AIOKafkaAdminClient

from triage_schemas.delivery import Stage, one_at_a_time, subscribe
from triage_schemas.kafka import ensure_topics, make_broker
from triage_schemas.logs import configure_logging, log_event
from triage_schemas.service import ServiceRuntime
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
    logger = configure_logging("sla-monitor", settings.log_level)
    try:
        policy = load_clock_policy(settings.policy_file)
    except PolicyFileError as error:
        raise SystemExit(f"sla-monitor: {error} (TRIAGE_SLA_MONITOR_POLICY_FILE)") from None
    log_event(
        logger, "policy_loaded", version=policy.version, file=str(settings.policy_file or "(built-in defaults)"),
        calendars=sorted(policy.calendars),
    )  # fmt: skip
    monitor = Monitor(settings, policy, logger)
    clock_state = ClockState(monitor)
    timer = AlertTimer(monitor, clock_state)
    asyncio.run(check_partitions(settings))
    broker = make_broker(settings.kafka, client_id="triage-sla-monitor", logger=logger)
    stage = Stage("sla-monitor", broker, settings.topics.dlq, logger)
    subscribe(
        broker,
        stage,
        [settings.topics.routed, settings.topics.conversation_events],
        settings.consumer_group,
        one_at_a_time(monitor.on_input),
        batch=True,
        extra=clock_state.persist,
        listener=ClockPartitions(clock_state, settings.topics.routed),
        co_partitioned=True,
        tuning=settings.kafka.consumer_options(),
    )
    return ServiceRuntime(
        "sla-monitor", settings, broker, logger,
        routes=[wait_times_route(monitor.figures)],
        on_startup=[monitor.start, timer.start], on_shutdown=[timer.stop, monitor.stop],
    )  # fmt: skip
