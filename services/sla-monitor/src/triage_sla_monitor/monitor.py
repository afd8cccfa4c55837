"""The monitor's inputs: routed messages and conversation events become clock changes.

No Kafka here beyond the records' bytes: the shared delivery step calls ``on_input``
for each record, and the clocks it touches are marked dirty for ``recovery`` to write
before the input offsets are committed.
"""

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from triage_runtime.delivery import Inbound, Outbound, Rejected
from triage_runtime.jsonlines import validation_summary
from triage_runtime.tracing import current_traceparent
from triage_schemas.enums import ActorKind, ConversationEventType, SentimentLabel
from triage_schemas.policy import ClockPolicy
from triage_schemas.records import ConversationEvent, RoutedMessage, parse_record
from triage_sla_monitor.alertmanager import Alertmanager
from triage_sla_monitor.clock import BREACHED, Answered, Clock, Facts, Outcome, Resolved
from triage_sla_monitor.config import SlaMonitorSettings
from triage_sla_monitor.inputs import clock_store, epoch, fact_of, is_reply, subject_of, window_deadline
from triage_sla_monitor.metrics import Figures
from triage_sla_monitor.volume import Volume, volumes_of


class Monitor:
    """The clocks of the partitions this replica owns, and what is known about them."""

    def __init__(self, settings: SlaMonitorSettings, policy: ClockPolicy, logger: logging.Logger) -> None:
        self.settings = settings
        self.policy = policy
        self.logger = logger
        self.store = clock_store(policy)
        self.figures = Figures(
            settings.wait_sample, settings.dm_badge_window_seconds, buckets=settings.histogram_buckets_seconds
        )
        self.dirty: set[str] = set()
        # inbound volume for the surge detector, written with the clocks (see ``volume``)
        self.volumes: list[Volume] = []
        # the input (and state) partition of each clock, so a revoked partition's clocks can go
        self.partition_of: dict[str, int] = {}
        self.owned: set[int] = set()
        self.firing = False  # off from a revocation until the next assignment
        self.lock = asyncio.Lock()
        self.producer: AIOKafkaProducer | None = None
        self.alertmanager = Alertmanager(settings.alertmanager_url, logger) if settings.alertmanager_url else None

    def make_producer(self) -> AIOKafkaProducer:
        kwargs: dict[str, Any] = self.settings.kafka.admin_client_kwargs()
        return AIOKafkaProducer(
            **kwargs,
            transactional_id=self.settings.transactional_id,
            transaction_timeout_ms=int(self.settings.transaction_timeout_seconds * 1000),
            enable_idempotence=True,
            acks="all",
        )

    async def start(self) -> None:
        self.producer = self.make_producer()
        await self.producer.start()
        if self.alertmanager is not None:
            await self.alertmanager.start()

    async def stop(self) -> None:
        if self.alertmanager is not None:
            await self.alertmanager.stop()
        if self.producer is not None:
            await self.producer.stop()

    def _parse(self, inbound: Inbound) -> Any:
        try:
            return parse_record(inbound.value)
        except ValidationError as error:
            raise Rejected(f"not a valid record: {validation_summary(error)}") from error
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
        if record.routing.corrected_by is not None:  # the same message routed again after a correction
            if self.store.reclassify(cid, subject_of(record)) is None:
                return None
            self.dirty.add(cid)  # the clock's new targets are persisted with the batch
            return cid
        before = self.store.get(cid).alerts_sent
        if is_reply(record):
            actor_kind = record.actor_kind or ActorKind.HUMAN
            self.figures.reply(record.classification.lane.value, actor_kind)
            if actor_kind is ActorKind.AUTOMATION:
                return None  # recorded, but an automated reply stops no clock
            clock, outcomes = self.store.event(cid, Facts.REPLY, at)
        else:
            if inbound.partition is not None and inbound.offset is not None:
                c = record.classification
                self.volumes.extend(volumes_of(
                    at, c.lane.value, record.platform.value, c.issue_type.value,
                    c.sentiment.label is SentimentLabel.NEGATIVE, inbound.partition, inbound.offset,
                ))  # fmt: skip
            deadline = window_deadline(record, self.policy.sla.reply_windows.margin)
            clock, outcomes = self.store.customer_message(
                cid, at, subject_of(record), deadline, traceparent=current_traceparent()
            )
        self._after(clock, before, outcomes)
        return cid

    def on_event(self, inbound: Inbound) -> str | None:
        record = self._parse(inbound)
        if not isinstance(record, ConversationEvent):
            raise Rejected(f"expected a conversation_event record, got {record.record_type}")
        cid = record.conversation_id
        if record.type is ConversationEventType.AGENT_REPLIED:
            known = self.store.clocks.get(cid)
            lane = known.subject.lane if known is not None and known.subject is not None else "unknown"
            self.figures.reply(lane, record.actor_kind or ActorKind.HUMAN)
        fact = fact_of(record)
        if fact is None:
            return None
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
