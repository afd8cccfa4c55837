"""Kafka wiring of the sla-monitor service.

Durability: every change to a clock is written to the compacted state topic before the
input offsets are committed (the ``extra`` hook of the shared delivery step), and a
fired alert is written together with the clock that records it as sent, in one Kafka
transaction. A restart therefore finds each clock as it was and every alert it already
sent: none is lost and none repeats. State is read back with ``read_committed``.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
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
        self.lock = asyncio.Lock()
        self.producer: AIOKafkaProducer | None = None
        self.alertmanager = Alertmanager(settings.alertmanager_url, logger) if settings.alertmanager_url else None
        self._tasks: list[asyncio.Task[None]] = []

    def make_producer(self) -> AIOKafkaProducer:
        kwargs: dict[str, Any] = self.settings.kafka.admin_client_kwargs()
        return AIOKafkaProducer(
            **kwargs,
            transactional_id=self.settings.transactional_id,
            enable_idempotence=True,
            acks="all",
        )

    async def restore(self) -> int:
        """Load every committed clock of the state topic (aborting a crashed predecessor's transaction first)."""
        producer = self.make_producer()
        topic = self.settings.topics.sla_state
        await producer.start()  # init_transactions fences and aborts what a killed replica left open
        try:
            partitions = [TopicPartition(topic, p) for p in sorted(await producer.partitions_for(topic))]
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            **self.settings.kafka.admin_client_kwargs(), isolation_level="read_committed", enable_auto_commit=False
        )
        await consumer.start()
        try:
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            remaining = {tp for tp in partitions if ends[tp] > 0}
            while remaining:
                batches = await consumer.getmany(*remaining, timeout_ms=1000)
                for records in batches.values():
                    for record in records:
                        self._restore_one(record.key, record.value)
                for tp in list(remaining):
                    if await consumer.position(tp) >= ends[tp]:
                        remaining.discard(tp)
        finally:
            await consumer.stop()
        log_event(self.logger, "clocks_restored", clocks=len(self.store))
        return len(self.store)

    def _restore_one(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        cid = key.decode("utf-8", errors="replace")
        if value is None:
            self.store.forget(cid)
            return
        try:
            self.store.restore(state.load(cid, value))
        except (ValueError, KeyError, TypeError) as error:
            log_event(self.logger, "bad_state_record", logging.WARNING, error=type(error).__name__)

    # --- inputs -------------------------------------------------------------------------

    def _parse(self, inbound: Inbound) -> Any:
        try:
            return parse_record(inbound.value)
        except ValidationError as error:
            first = error.errors()[0]
            raise Rejected(f"not a valid record: {first['msg']} at {'.'.join(map(str, first['loc']))}") from error
        except ValueError as error:
            raise Rejected(f"not a valid record: {error}") from error

    def on_routed(self, inbound: Inbound) -> Sequence[Outbound]:
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
        return []

    def on_event(self, inbound: Inbound) -> Sequence[Outbound]:
        record = self._parse(inbound)
        if not isinstance(record, ConversationEvent):
            raise Rejected(f"expected a conversation_event record, got {record.record_type}")
        fact = fact_of(record)
        if fact is None:
            return []
        cid = record.conversation_id
        before = self.store.get(cid).alerts_sent
        clock, outcomes = self.store.event(cid, fact, epoch(record.at))
        self._after(clock, before, outcomes)
        return []

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

    async def _send_state(self, cid: str) -> None:
        assert self.producer is not None
        clock = self.store.clocks.get(cid)
        # a resolved conversation leaves a tombstone, so compaction drops it
        value = None if clock is None or clock.resolved_at is not None else state.dump(clock)
        await self.producer.send(self.settings.topics.sla_state, key=cid.encode(), value=value)

    # --- timers -------------------------------------------------------------------------

    async def fire_due(self, now: float) -> list[Alert]:
        """Fire due alerts; each alert and its clock's new state are one transaction."""
        async with self.lock:
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


async def prepare(settings: SlaMonitorSettings, monitor: Monitor) -> None:
    await ensure_topics(settings.kafka, settings.topics)
    await monitor.restore()


def build(settings: SlaMonitorSettings) -> ServiceRuntime:
    logger = configure_logging("sla-monitor", settings.log_level)
    monitor = Monitor(settings, logger)
    # clocks are back in memory before any input is consumed
    asyncio.run(prepare(settings, monitor))
    broker = make_broker(settings.kafka, client_id="triage-sla-monitor", logger=logger)
    stage = Stage("sla-monitor", broker, settings.topics.dlq, logger)
    for topic, handler in (
        (settings.topics.routed, monitor.on_routed),
        (settings.topics.conversation_events, monitor.on_event),
    ):
        subscribe(
            broker, stage, topic, settings.consumer_group, one_at_a_time(handler), batch=True, extra=monitor.persist
        )
    return ServiceRuntime(
        "sla-monitor", settings, broker, logger,
        routes=[Route("/wait-times", monitor.wait_times)],
        on_startup=[monitor.start], on_shutdown=[monitor.stop],
    )  # fmt: skip
