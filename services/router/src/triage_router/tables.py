"""The assignment book on Kafka: two logs read in full, and the assigner's plan.

Every replica reads ``social.agents`` (the roster) and ``social.conversation-events``
(assignments, unassignments, resolutions) from the beginning, outside any consumer
group, like a global table. The replica that owns partition 0 of
``social.classified`` is the assigner: when it gets that partition it first reads both
logs to their end, then it alone assigns, so capacity is checked by one writer. When
the partition moves (a rebalance, a crash), the old assigner finishes its round before
giving it up, and the new one starts only after reading everything published before.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from faststream.kafka import KafkaBroker
from prometheus_client import Counter, Gauge
from pydantic import ValidationError

from triage_router.assignment import AgentBook, DecisionLog
from triage_router.config import RouterSettings
from triage_runtime.kafka import ensure_topics, partitions_of, read_to_end
from triage_runtime.logs import log_event
from triage_schemas.records import Agent, ConversationEvent

OPEN_PER_AGENT = Gauge("triage_router_agent_open_conversations", "Open conversations per agent", ["agent"])
AGENT_CAPACITY = Gauge("triage_router_agent_capacity", "Open conversations an agent takes at once", ["agent"])
QUEUE_LENGTH = Gauge("triage_router_queue_length", "Conversations waiting for an agent, per team", ["team"])
QUEUE_OLDEST = Gauge("triage_router_queue_oldest_seconds", "How long the oldest waiting one has waited", ["team"])
ASSIGNMENTS = Counter(
    "triage_router_assignments", "Assignment events published, by type and how the agent was chosen", ["type", "how"]
)
SKIPPED = Counter("triage_router_assignment_log_skipped", "Unreadable records in the roster or event logs", ["topic"])
RECONCILE_SECONDS = 5.0  # also re-checked on every change; this catches time-based rules
POLL_MS = 250  # how soon a new assigner notices it was given partition 0


def how_of(event: ConversationEvent) -> str:
    """A short label for the metrics: the first word of the reason (sticky, least_loaded, ...)."""
    reason = event.reason or ""
    for label in ("sticky", "least_loaded", "round_robin", "queue", "over capacity", "waiting", "no "):
        if label in reason:
            return label.strip().replace(" ", "_")
    return "agent_left" if event.agent_id else "other"


def _every(_: str) -> bool:
    return True  # the assigner acts for every conversation


class AssignmentTables(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, settings: RouterSettings, book: AgentBook, broker: KafkaBroker, logger: logging.Logger) -> None:
        self.settings = settings
        self.topics = settings.topics
        self.book = book
        self.broker = broker
        self.logger = logger
        self.partitions = 0
        self.assigner = False
        self._catch_up: dict[TopicPartition, int] | None = None
        self._become_assigner = False
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    # --- who assigns: the owner of partition 0 of the classified topic ---------------------

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        if TopicPartition(self.topics.classified, 0) in set(assigned) and not self.assigner:
            self._become_assigner = True  # after reading the logs to their end (see _follow)
            self._wake.set()

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        if TopicPartition(self.topics.classified, 0) in set(revoked):
            async with self._lock:  # a round in flight is published before another replica takes over
                self.assigner = False
                self._become_assigner = False
                self._catch_up = None
            log_event(self.logger, "assigner_stopped")

    # --- reading the logs ----------------------------------------------------------------

    async def start(self) -> None:
        """Before consuming: the roster and every open assignment, read to the end."""
        kafka = self.settings.kafka
        await ensure_topics(kafka, self.topics, [self.topics.agents, self.topics.conversation_events])
        self.partitions = len(await partitions_of(kafka, self.topics.classified))
        logs = [
            *await partitions_of(kafka, self.topics.agents),
            *await partitions_of(kafka, self.topics.conversation_events),
        ]
        self._consumer = AIOKafkaConsumer(**kafka.admin_client_kwargs(), enable_auto_commit=False, group_id=None)
        await self._consumer.start()
        read = 0
        async for record in read_to_end(self._consumer, dict.fromkeys(logs)):
            self.apply(record)
            read += 1
        self.update_metrics()
        log_event(self.logger, "assignment_book_restored", records=read, agents=len(self.book.roster),
                  open_conversations=len(self.book.conversations))  # fmt: skip
        self._task = asyncio.create_task(self._follow())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    def apply(self, record: "ConsumerRecord[bytes, bytes]") -> bool:
        try:
            if record.topic == self.topics.agents:
                agent_id = record.key.decode("utf-8") if record.key else None
                if agent_id is None:
                    raise ValueError("no key")
                agent = Agent.model_validate_json(record.value) if record.value is not None else None
                self.book.apply_agent(agent_id, agent)
                return True
            if record.value is None:
                return False
            event = ConversationEvent.model_validate_json(record.value)
        except (ValidationError, ValueError, UnicodeDecodeError):
            # Other systems publish here too; what the router cannot read is counted, not fatal.
            SKIPPED.labels(record.topic).inc()
            return False
        return self.book.apply_event(event)

    async def _follow(self) -> None:
        assert self._consumer is not None
        last_round = time.monotonic()
        while True:
            batches = await self._consumer.getmany(timeout_ms=POLL_MS)
            changed = False
            for record in (r for records in batches.values() for r in records):
                changed |= self.apply(record)  # every record applied: no short-circuit
            if await self._caught_up():
                changed = True
            due = time.monotonic() - last_round >= RECONCILE_SECONDS
            if self.assigner and (changed or self._wake.is_set() or due):
                self._wake.clear()
                last_round = time.monotonic()
                try:
                    await self.reconcile()
                except Exception as error:
                    log_event(self.logger, "reconcile_failed", logging.WARNING, error=type(error).__name__)

    async def _caught_up(self) -> bool:
        """True once, when this replica has read everything published before it became the assigner."""
        assert self._consumer is not None
        if self._become_assigner:
            self._become_assigner = False
            self._catch_up = await self._consumer.end_offsets(list(self._consumer.assignment()))
        if self._catch_up is None:
            return False
        for tp, end in self._catch_up.items():
            if await self._consumer.position(tp) < end:
                return False
        self._catch_up = None
        self.assigner = True
        log_event(self.logger, "assigner_started", agents=len(self.book.roster),
                  open_conversations=len(self.book.conversations))  # fmt: skip
        return True

    async def reconcile(self) -> int:
        """Publish this replica's part of the plan; undone if it cannot be published."""
        async with self._lock:
            log: DecisionLog = []
            if not self.assigner:
                return 0
            events = self.book.reconcile(_every, time.time(), log)
            if events:
                try:
                    futures = [
                        await self.broker.publish(
                            event.to_json_bytes(),
                            topic=self.topics.conversation_events,
                            key=event.conversation_id.encode("utf-8"),
                            no_confirm=True,
                        )
                        for event in events
                    ]
                    await asyncio.gather(*futures)
                except Exception:
                    self.book.undo(log)
                    raise
                self.book.acknowledged(log)
                for event in events:
                    ASSIGNMENTS.labels(str(event.type), how_of(event)).inc()
            self.update_metrics()
            return len(events)

    def update_metrics(self) -> None:
        now = time.time()
        view = self.book.view(now)
        for agent in view["agents"]:  # type: ignore[attr-defined]
            OPEN_PER_AGENT.labels(agent["agent_id"]).set(agent["open"])
            AGENT_CAPACITY.labels(agent["agent_id"]).set(agent["capacity"])
        queues: dict[str, dict[str, float]] = view["queues"]  # type: ignore[assignment]
        for team in {*queues, *self.book.strategies}:
            queue = queues.get(team, {"waiting": 0, "oldest_seconds": 0.0})
            QUEUE_LENGTH.labels(team).set(queue["waiting"])
            QUEUE_OLDEST.labels(team).set(queue["oldest_seconds"])
