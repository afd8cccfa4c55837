"""Kafka wiring of corrections: the router reads its own routed messages and the
conversation events, co-partitioned, in a consumer group of its own, and answers each
``reclassified`` event with the conversation's message routed again (see ``corrections``).

The messages it remembers are refilled after a restart or a rebalance from
``social.routed`` itself, the last ``corrections_memory_hours`` of each assigned
partition, before any record of that partition is processed (``ready``): a correction
made after a restart finds the message it corrects.
"""

import asyncio
import time
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from prometheus_client import Counter

from triage_router.config import RouterSettings
from triage_router.corrections import Recent, correction_target, reroute
from triage_router.policy import RoutingPolicy
from triage_runtime.delivery import Inbound, Outbound, one_at_a_time
from triage_runtime.kafka import read_to_end
from triage_runtime.logs import log_event
from triage_runtime.service import Service
from triage_schemas.enums import ConversationEventType
from triage_schemas.records import ConversationEvent, parse_record

_EVENTS_OF_INTEREST = (b'"reclassified"', b'"resolved"')  # parsed only when the bytes may be one

CORRECTIONS = Counter(
    "triage_router_corrections",
    "Classifications corrected by a person and routed again: what the model said, and the correction",
    ["issue_type", "lane", "corrected_to"],
)


class CorrectionStep:
    def __init__(self, policy: RoutingPolicy, settings: RouterSettings) -> None:
        self.policy = policy
        self.topics = settings.topics
        self.settings = settings
        self.recent = Recent(settings.corrections_memory_size)
        self.refilled = asyncio.Event()  # corrections wait for the memory of newly assigned partitions

    def on_input(self, inbound: Inbound) -> Sequence[Outbound]:
        key = inbound.key.decode("utf-8", "replace") if inbound.key else None
        if inbound.topic == self.topics.routed:
            if key is not None:
                self.recent.remember(key, inbound.value)
            return []
        if not any(word in inbound.value for word in _EVENTS_OF_INTEREST):
            return []  # replies, assignments, pauses: nothing to correct (and nothing to parse)
        try:
            record = parse_record(inbound.value)
        except ValueError:  # ValidationError included
            return []  # not this step's to judge: the SLA monitor dead-letters bad events
        if not isinstance(record, ConversationEvent):
            return []
        if record.type is ConversationEventType.RESOLVED:
            self.recent.forget(record.conversation_id)
        if record.type is not ConversationEventType.RECLASSIFIED or record.correction is None:
            return []
        message = correction_target(record, self.recent)
        again = reroute(message, record, self.policy)
        before = message.classification
        CORRECTIONS.labels(str(before.issue_type), str(before.lane), str(record.correction.issue_type)).inc()
        self.recent.remember(again.conversation_id, again.to_json_bytes())
        return [Outbound(self.topics.routed, again.conversation_id, again)]

    async def refill(self, partitions: set[int]) -> int:
        """Remember the routed messages of these partitions from the last few hours."""
        if not partitions:
            return 0
        consumer = AIOKafkaConsumer(**self.settings.kafka.admin_client_kwargs(), enable_auto_commit=False)
        await consumer.start()
        count = 0
        try:
            wanted = [TopicPartition(self.topics.routed, p) for p in sorted(partitions)]
            since = int((time.time() - self.settings.corrections_memory_hours * 3600) * 1000)
            found = await consumer.offsets_for_times(dict.fromkeys(wanted, since))
            # a partition with nothing since then has no offset here: nothing to read from it
            starts: dict[TopicPartition, int | None] = {tp: at.offset for tp, at in found.items() if at is not None}
            if starts:
                async for record in read_to_end(consumer, starts):
                    if record.key is not None and record.value is not None:
                        self.recent.remember(record.key.decode("utf-8", "replace"), record.value)
                        count += 1
        finally:
            await consumer.stop()
        return count


class RefillOnAssignment(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, step: CorrectionStep, service: Service) -> None:
        self.step = step
        self.service = service
        self.owned: set[int] = set()

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.step.refilled.clear()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        partitions = {tp.partition for tp in assigned if tp.topic == self.step.topics.routed}
        new = partitions - self.owned
        self.owned = partitions
        count = await self.step.refill(new)
        self.step.refilled.set()
        log_event(self.service.logger, "corrections_memory_refilled", partitions=sorted(new), messages=count)


def consume_corrections(service: Service, settings: RouterSettings, policy: RoutingPolicy) -> CorrectionStep:
    step = CorrectionStep(policy, settings)
    service.consume(
        [settings.topics.routed, settings.topics.conversation_events],
        one_at_a_time(step.on_input),
        listener=RefillOnAssignment(step, service),
        ready=step.refilled.wait,
        co_partitioned=True,
        group=settings.corrections_group,
        gather_ms=settings.corrections_gather_ms,
    )
    return step
