"""Kafka wiring of the sla-monitor service.

Durability: every change to a clock is written to the compacted state topic before the
input offsets are committed (the ``extra`` hook of the shared delivery step), and a
fired alert is written together with the clock that records it as sent, in one Kafka
transaction. A restart therefore finds each clock as it was and every alert it already
sent: none is lost and none repeats. State is read back with ``read_committed``.

Replicas: ``social.routed``, ``social.conversation-events`` and ``social.sla-state`` are
co-partitioned, and one consumer reads both inputs, so a conversation's inputs and its
clock live on the same partition number. A clock is written to the state partition of
the input that touched it. When the group assigns a partition, its clocks are restored
from that state partition before any of its inputs is processed; when a partition is
revoked, the clocks in hand are persisted and firing stops until the new assignment,
and clocks of partitions this replica no longer owns are dropped. Kafka's (eager)
rebalance revokes from every member before it assigns, so two replicas never fire the
same clock.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from triage_schemas.delivery import Inbound, Outbound, Rejected, Stage, one_at_a_time, subscribe
from triage_schemas.kafka import ensure_topics, make_broker
from triage_schemas.logs import configure_logging, log_event
from triage_schemas.records import ConversationEvent, RoutedMessage, parse_record
from triage_schemas.service import ServiceRuntime
from triage_sla_monitor import state
from triage_sla_monitor.alertmanager import Alertmanager
from triage_sla_monitor.clock import Alert, Answered, Clock, ClockStore, Facts, Outcome, Resolved
from triage_sla_monitor.config import SlaMonitorSettings
from triage_sla_monitor.inputs import alert_record, epoch, fact_of, is_reply, subject_of
from triage_sla_monitor.metrics import Figures

BREACHED = 0b110  # the breach and escalation bits of Clock.alerts_sent


class Monitor:
    def __init__(self, settings: SlaMonitorSettings, logger: logging.Logger) -> None:
        self.settings = settings
        self.logger = logger
        self.store = ClockStore(settings.alerts)
        self.figures = Figures(
            settings.wait_sample, settings.dm_badge_window_seconds, buckets=settings.histogram_buckets_seconds
        )
        self.dirty: set[str] = set()
        # the input (and state) partition of each clock, so a revoked partition's clocks can go
        self.partition_of: dict[str, int] = {}
        self.owned: set[int] = set()
        self.firing = False  # off from a revocation until the next assignment
        self.lock = asyncio.Lock()
        self.producer: AIOKafkaProducer | None = None
        self.alertmanager = Alertmanager(settings.alertmanager_url, logger) if settings.alertmanager_url else None
        self._tasks: list[asyncio.Task[None]] = []

    def make_producer(self) -> AIOKafkaProducer:
        kwargs: dict[str, Any] = self.settings.kafka.admin_client_kwargs()
        return AIOKafkaProducer(
            **kwargs,
            transactional_id=self.settings.transactional_id,
            transaction_timeout_ms=int(self.settings.transaction_timeout_seconds * 1000),
            enable_idempotence=True,
            acks="all",
        )

    async def restore(self, partitions: set[int]) -> int:
        """Load the committed clocks of these state partitions (a killed replica's open
        transaction was aborted by our producer's start, or times out)."""
        topic = self.settings.topics.sla_state
        wanted = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not wanted:
            return 0
        consumer = AIOKafkaConsumer(
            **self.settings.kafka.admin_client_kwargs(), isolation_level="read_committed", enable_auto_commit=False
        )
        await consumer.start()
        restored = 0
        try:
            consumer.assign(wanted)
            await consumer.seek_to_beginning(*wanted)
            ends = await consumer.end_offsets(wanted)
            remaining = {tp for tp in wanted if ends[tp] > 0}
            while remaining:
                batches = await consumer.getmany(*remaining, timeout_ms=1000)
                for tp, records in batches.items():
                    for record in records:
                        restored += self._restore_one(record.key, record.value, tp.partition)
                for tp in list(remaining):
                    if await consumer.position(tp) >= ends[tp]:
                        remaining.discard(tp)
        finally:
            await consumer.stop()
        return restored

    async def assigned(self, partitions: set[int]) -> None:
        """The group gave us these partitions: drop the clocks of the others, restore the new ones."""
        async with self.lock:
            for cid in [c for c, p in self.partition_of.items() if p not in partitions]:
                self.store.forget(cid)
                del self.partition_of[cid]
            new = partitions - self.owned
            await self.restore(new)
            self.owned = set(partitions)
            self.firing = True
        log_event(
            self.logger, "partitions_assigned", partitions=sorted(partitions), restored=sorted(new),
            clocks=len(self.store),
        )  # fmt: skip

    async def revoked(self) -> None:
        """Before the group reassigns: persist what is in hand and stop firing."""
        await self.persist(())
        async with self.lock:
            self.firing = False

    def _restore_one(self, key: bytes | None, value: bytes | None, partition: int) -> int:
        if key is None:
            return 0
        cid = key.decode("utf-8", errors="replace")
        if value is None:
            self.store.forget(cid)
            self.partition_of.pop(cid, None)
            return 0
        try:
            self.store.restore(state.load(cid, value))
        except (ValueError, KeyError, TypeError) as error:
            log_event(self.logger, "bad_state_record", logging.WARNING, error=type(error).__name__)
            return 0
        self.partition_of[cid] = partition
        return 1

    # --- inputs -------------------------------------------------------------------------

    def _parse(self, inbound: Inbound) -> Any:
        try:
            return parse_record(inbound.value)
        except ValidationError as error:
            first = error.errors()[0]
            raise Rejected(f"not a valid record: {first['msg']} at {'.'.join(map(str, first['loc']))}") from error
        except ValueError as error:
            raise Rejected(f"not a valid record: {error}") from error

    def on_input(self, inbound: Inbound) -> Sequence[Outbound]:
        """Both input topics come through one consumer, in order per partition."""
        if inbound.topic == self.settings.topics.conversation_events:
            cid = self.on_event(inbound)
        else:
            cid = self.on_routed(inbound)
        if cid is not None and inbound.partition is not None:
            self.partition_of[cid] = inbound.partition
        return []

    def on_routed(self, inbound: Inbound) -> str | None:
        record = self._parse(inbound)
        if not isinstance(record, RoutedMessage):
            raise Rejected(f"expected a routed record, got {record.record_type}")
        at = epoch(record.created_at)
        cid = record.conversation_id
        before = self.store.get(cid).alerts_sent
        if is_reply(record):
            clock, outcomes = self.store.event(cid, Facts.REPLY, at)
        else:
            clock, outcomes = self.store.customer_message(cid, at, subject_of(record))
        self._after(clock, before, outcomes)
        return cid

    def on_event(self, inbound: Inbound) -> str | None:
        record = self._parse(inbound)
        if not isinstance(record, ConversationEvent):
            raise Rejected(f"expected a conversation_event record, got {record.record_type}")
        fact = fact_of(record)
        if fact is None:
            return None
        cid = record.conversation_id
        before = self.store.get(cid).alerts_sent
        clock, outcomes = self.store.event(cid, fact, epoch(record.at))
        self._after(clock, before, outcomes)
        return cid

    def _after(self, clock: Clock, alerts_before: int, outcomes: list[Outcome]) -> None:
        now = time.time()
        self.dirty.add(clock.conversation_id)
        for outcome in outcomes:
            if isinstance(outcome, Answered):
                self.figures.answered(outcome, now)
            elif isinstance(outcome, Resolved):
                self.figures.resolved(outcome)
            if self.alertmanager is not None and alerts_before & BREACHED:
                self.alertmanager.resolve(clock.conversation_id, clock.number, outcome.subject)

    async def persist(self, _: Sequence[Inbound]) -> None:
        """Write the touched clocks before the shared step commits the input offsets."""
        if not self.dirty:
            return
        async with self.lock:
            dirty, self.dirty = self.dirty, set()
            assert self.producer is not None
            try:
                async with self.producer.transaction():
                    for cid in dirty:
                        await self._send_state(cid)
            except BaseException:
                self.dirty |= dirty
                raise
            for cid in dirty:
                clock = self.store.clocks.get(cid)
                if clock is not None and clock.resolved_at is not None:
                    self.store.forget(cid)
                    self.partition_of.pop(cid, None)

    async def _send_state(self, cid: str) -> None:
        assert self.producer is not None
        clock = self.store.clocks.get(cid)
        # a resolved conversation leaves a tombstone, so compaction drops it
        value = None if clock is None or clock.resolved_at is not None else state.dump(clock)
        # the state partition is the input partition, whatever partitioner the producers used
        await self.producer.send(
            self.settings.topics.sla_state, key=cid.encode(), value=value, partition=self.partition_of.get(cid)
        )

    # --- timers -------------------------------------------------------------------------

    async def fire_due(self, now: float) -> list[Alert]:
        """Fire due alerts; each alert and its clock's new state are one transaction."""
        async with self.lock:
            if not self.firing:
                return []
            alerts = self.store.fire(now)
            if not alerts:
                return []
            assert self.producer is not None
            try:
                async with self.producer.transaction():
                    for alert in alerts:
                        record = alert_record(alert)
                        await self.producer.send(
                            self.settings.topics.sla_alerts,
                            key=alert.conversation_id.encode(),
                            value=record.to_json_bytes(),
                        )
                    for cid in {a.conversation_id for a in alerts}:
                        await self._send_state(cid)
            except Exception as error:
                # not sent: take the marks back so the next tick tries again
                for alert in alerts:
                    clock = self.store.clocks.get(alert.conversation_id)
                    if clock is not None and clock.number == alert.clock_number:
                        clock.alerts_sent &= ~(1 << list(type(alert.kind)).index(alert.kind))
                        self.store.restore(clock)
                log_event(self.logger, "alert_publish_failed", logging.ERROR, error=type(error).__name__)
                return []
        for alert in alerts:
            self.figures.alert(alert)
            log_event(
                self.logger, "sla_alert", kind=alert.kind.value, lane=alert.subject.lane,
                priority=alert.subject.priority, lateness_seconds=round(now - alert.due_at, 3),
            )  # fmt: skip
            if self.alertmanager is not None and alert.kind.value != "warning":
                self.alertmanager.fire(alert)
        return alerts

    async def _timer(self) -> None:
        while True:
            await self.fire_due(time.time())
            await asyncio.sleep(self.settings.tick_seconds)

    async def _gauges(self) -> None:
        while True:
            self.figures.refresh(self.store, time.time())
            await asyncio.sleep(self.settings.gauges_seconds)

    async def start(self) -> None:
        self.producer = self.make_producer()
        await self.producer.start()
        if self.alertmanager is not None:
            await self.alertmanager.start()
        self._tasks = [asyncio.create_task(self._timer()), asyncio.create_task(self._gauges())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.alertmanager is not None:
            await self.alertmanager.stop()
        if self.producer is not None:
            await self.producer.stop()

    async def wait_times(self, _: Request) -> Response:
        waits = self.figures.wait_times()
        return JSONResponse(
            {
                "lanes": {lane: {"median_first_response_seconds": round(v, 1)} for lane, v in waits.items()},
                "at": datetime.now(UTC).isoformat(),
            }
        )


class ClockPartitions(ConsumerRebalanceListener):  # type: ignore[misc]
    """Restores and drops clocks as the consumer group moves partitions."""

    def __init__(self, monitor: Monitor, topic: str) -> None:
        self.monitor = monitor
        self.topic = topic  # the inputs are co-partitioned: one topic's numbers stand for both

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.monitor.revoked()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.monitor.assigned({tp.partition for tp in assigned if tp.topic == self.topic})


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
    monitor = Monitor(settings, logger)
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
        extra=monitor.persist,
        listener=ClockPartitions(monitor, settings.topics.routed),
        co_partitioned=True,
    )
    return ServiceRuntime(
        "sla-monitor", settings, broker, logger,
        routes=[Route("/wait-times", monitor.wait_times)],
        on_startup=[monitor.start], on_shutdown=[monitor.stop],
    )  # fmt: skip
