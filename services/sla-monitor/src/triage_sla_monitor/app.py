"""Kafka wiring of the sla-monitor service: the monitor's pieces put together.

``monitor`` turns inputs into clock changes, ``recovery`` keeps the clocks on the
compacted state topic and moves them with the consumer group's partitions, ``timers``
fires due alerts, ``surge_watch`` counts inbound volume by dimension and raises surges,
``views`` serves /wait-times. Calendars, targets and alert fractions
come from the routing policy file the router reads (``TRIAGE_SLA_MONITOR_POLICY_FILE``).
"""

import asyncio

from aiokafka.admin import AIOKafkaAdminClient

from triage_runtime.contract import NO_HEADERS, TRACE_CONTEXT, Contract, Reads, RecordKind, Writes, dead_letters, record
from triage_runtime.delivery import one_at_a_time
from triage_runtime.kafka import ensure_topics
from triage_runtime.logs import log_event
from triage_runtime.service import Service, ServiceRuntime
from triage_schemas.enums import SurgeDimension
from triage_schemas.records import ConversationEvent, RoutedMessage, SlaAlert, SurgeAlert
from triage_sla_monitor.config import PolicyFileError, SlaMonitorSettings, load_clock_policy
from triage_sla_monitor.monitor import Monitor
from triage_sla_monitor.recovery import ClockPartitions, ClockState
from triage_sla_monitor.surge_watch import SurgePartitions, SurgeWatch
from triage_sla_monitor.timers import AlertTimer
from triage_sla_monitor.views import public_routes, wait_times_route


async def check_partitions(settings: SlaMonitorSettings) -> int:
    """The join by partition needs the same partition count on the four topics; returns it."""
    await ensure_topics(settings.kafka, settings.topics)
    admin = AIOKafkaAdminClient(**settings.kafka.admin_client_kwargs())
    await admin.start()
    try:
        names = [
            settings.topics.routed, settings.topics.conversation_events, settings.topics.sla_state,
            settings.topics.sla_volume,
        ]  # fmt: skip
        counts = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(names)}
    finally:
        await admin.close()
    if len(set(counts.values())) != 1:
        listed = ", ".join(f"{name} has {count}" for name, count in counts.items())
        raise SystemExit(
            "sla-monitor: the routed, conversation-events, sla-state and sla-volume topics need the same number "
            f"of partitions ({listed})"
        )
    return counts[settings.topics.routed]


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
    surges = SurgeWatch(monitor, source_partitions=asyncio.run(check_partitions(settings)))
    service.consume(
        [settings.topics.routed, settings.topics.conversation_events],
        one_at_a_time(monitor.on_input),
        extra=clock_state.persist,
        listener=ClockPartitions(clock_state, settings.topics.routed),
        ready=clock_state.restored.wait,
        co_partitioned=True,
        gather_ms=settings.gather_ms,
    )
    # the surge detector counts each dimension on one replica: its own group on the volume topic
    service.consume(
        settings.topics.sla_volume,
        one_at_a_time(surges.on_volume),
        extra=surges.persist,
        listener=SurgePartitions(surges, settings.topics.sla_volume),
        ready=surges.restored.wait,
        group=settings.surge_group,
        read_committed=True,
        gather_ms=settings.surge_gather_ms,
    )
    return service.runtime(
        routes=[wait_times_route(monitor.figures), *public_routes(monitor.figures, settings)],
        on_startup=[monitor.start, timer.start, surges.start],
        on_shutdown=[surges.stop, timer.stop, monitor.stop],
        contract=contract(settings),
    )


# The internal records (``state``, ``volume``): their layout is the monitor's own.
CLOCK_STATE = RecordKind(
    "clock_state", key="the conversation_id, on the partition of its input",
    summary="A conversation's clocks (internal); a null value once it is finished.",
    schema={"type": ["object", "null"], "required": ["v", "number"], "properties": {"v": {"type": "integer"}}},
)  # fmt: skip
SURGE_WATCH = RecordKind(
    "surge_watch", key="`surge|<dimension>|<value>`",
    summary="One dimension's surge watch: baselines and open windows (internal).",
    schema={"type": "object", "required": ["v"], "properties": {"v": {"type": "integer"}}},
)  # fmt: skip
VOLUME = RecordKind(
    "volume", key="`<dimension>:<value>`: every count of a dimension on one partition",
    summary="One routed message counted for one dimension (internal: the surge detector's repartition).",
    schema={"type": "object", "required": ["d", "v", "at", "it", "neg", "p", "o"], "properties": {
        "d": {"type": "string", "enum": [d.value for d in SurgeDimension]}, "v": {"type": "string"},
        "at": {"type": "number", "description": "the message's time, epoch seconds"}, "it": {"type": "string"},
        "neg": {"type": "boolean"}, "p": {"type": "integer"}, "o": {"type": "integer"},
    }, "description": "p and o: the routed record counted, so a record read twice counts once"},
)  # fmt: skip


def contract(settings: SlaMonitorSettings) -> Contract:
    """What the SLA monitor reads and writes (its AsyncAPI document, ``triage_runtime.contract``)."""
    topics = settings.topics
    joined = "Joined by partition with {}: the same partition count, range-assigned."
    return Contract(
        reads=[
            Reads(
                topics.routed,
                [record(RoutedMessage)],
                "Routed messages start clocks; brand replies stop them. " + joined.format(topics.conversation_events),
            ),
            Reads(
                topics.conversation_events,
                [record(ConversationEvent)],
                "Replies, pauses and resolutions stop, pause and end clocks. " + joined.format(topics.routed),
            ),
            Reads(
                topics.sla_volume,
                [VOLUME],
                "The surge detector's counts: all of a dimension's reach one replica.",
                group=settings.surge_group,
            ),
            Reads(
                topics.sla_state,
                [CLOCK_STATE, SURGE_WATCH],
                "When partitions are assigned: their committed "
                "clocks and surge watches, read to the end with `isolation.level=read_committed`.",
                outside_group=True,
            ),
        ],
        writes=[
            Writes(
                topics.sla_alerts,
                [record(SlaAlert), record(SurgeAlert)],
                "Clock alerts when due and surge alerts when a window closes, each in the transaction of the "
                "state that records it as sent.",
                headers=TRACE_CONTEXT,
                transactional=True,
            ),
            Writes(
                topics.sla_state,
                [CLOCK_STATE, SURGE_WATCH],
                "The clocks and surge watches a batch or an alert changed, before the input offsets are committed.",
                headers=NO_HEADERS,
                transactional=True,
            ),
            Writes(
                topics.sla_volume,
                [VOLUME],
                "Three counts (lane, platform, issue type) per routed message, with the clocks it touched.",
                headers=NO_HEADERS,
                transactional=True,
            ),
            dead_letters(
                topics.dlq,
                "An alert that cannot be written (due after 2100) comes here instead, in its clock's transaction.",
            ),
        ],
    )
