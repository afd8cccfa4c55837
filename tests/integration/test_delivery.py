"""The shared consume-process-publish step on the real broker: dead letters for bad
input, commit only after publishing, redelivery when a step fails before the commit."""

import asyncio
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.harness import KafkaHarness
from triage_runtime.delivery import Inbound, Outbound, Rejected, Stage, one_at_a_time, subscribe
from triage_runtime.kafka import make_broker
from triage_schemas import ConversationEvent, ConversationEventType, DeadLetter, parse_record

pytestmark = pytest.mark.kafka


def to_event(topic: str) -> Callable[[Inbound], Sequence[Outbound]]:
    def process(inbound: Inbound) -> Sequence[Outbound]:
        try:
            data = json.loads(inbound.value)
        except ValueError as error:
            raise Rejected(f"not JSON: {error}") from None
        event = ConversationEvent(
            event_id=data["id"],
            conversation_id=data["conversation"],
            type=ConversationEventType.AGENT_REPLIED,
            at=datetime(2026, 11, 22, tzinfo=UTC),
        )
        return [Outbound(topic, event.conversation_id, event)]

    return process


async def committed_offset(kafka: KafkaHarness, group: str, topic: str, expected: int) -> int:
    """The group's committed offsets summed over partitions, once they reach ``expected``
    (or whatever they are after a few seconds)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        total = 0
        for _ in range(50):
            total = 0
            for partition in range(kafka.topics.partitions):
                total += await consumer.committed(TopicPartition(topic, partition)) or 0
            if total >= expected:
                break
            await asyncio.sleep(0.1)
        return total
    finally:
        await consumer.stop()


async def test_bad_records_are_dead_lettered_and_good_ones_behind_them_flow(kafka: KafkaHarness) -> None:
    topics = kafka.topics
    logger = logging.getLogger("test")
    broker = make_broker(kafka.settings, "test-delivery", logger)
    stage = Stage("test", broker, topics.dlq, logger)
    group = f"g-{uuid.uuid4().hex[:8]}"
    subscribe(broker, stage, topics.raw, group, one_at_a_time(to_event(topics.conversation_events)))

    await kafka.produce(topics.raw, json.dumps({"id": "e1", "conversation": "c1"}), key="c1")
    await kafka.produce(topics.raw, b"\xff{not json", key="c1", headers={"source": "gateway-7"})
    await kafka.produce(topics.raw, json.dumps({"id": "e2", "conversation": "c1"}), key="c1")
    await kafka.produce(topics.raw, json.dumps({"id": "e3"}), key="c1")  # KeyError inside the logic

    async with broker:
        await broker.start()
        out = await kafka.consume(topics.conversation_events, 2)
        letters = await kafka.consume(topics.dlq, 2)

    assert [parse_record(r.value).event_id for r in out] == ["e1", "e2"]  # type: ignore[union-attr]
    malformed, crashed = (parse_record(r.value) for r in letters)
    assert isinstance(malformed, DeadLetter) and isinstance(crashed, DeadLetter)
    assert malformed.stage == "test"
    assert malformed.error.startswith("not JSON")
    assert malformed.original_encoding == "base64"
    assert malformed.headers == {"source": "gateway-7"}
    assert (malformed.source_topic, malformed.source_offset) == (topics.raw, 1)
    assert "internal error (KeyError)" in crashed.error
    assert json.loads(crashed.original) == {"id": "e3"}
    assert await committed_offset(kafka, group, topics.raw, 4) == 4


async def test_a_failure_before_the_commit_redelivers_the_record(kafka: KafkaHarness) -> None:
    topics = kafka.topics
    logger = logging.getLogger("test")
    broker = make_broker(kafka.settings, "test-delivery", logger)
    stage = Stage("test", broker, topics.dlq, logger)
    group = f"g-{uuid.uuid4().hex[:8]}"
    failures = {"left": 1}

    async def fail_once(_: Sequence[Inbound]) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("simulated: the state store is unreachable")

    subscribe(
        broker,
        stage,
        topics.raw,
        group,
        one_at_a_time(to_event(topics.conversation_events)),
        extra=fail_once,
    )
    await kafka.produce(topics.raw, json.dumps({"id": "e1", "conversation": "c1"}), key="c1")

    async with broker:
        await broker.start()
        out = await kafka.consume(topics.conversation_events, 2)

    # At-least-once: the output of the failed attempt stays, the retry publishes again.
    assert [parse_record(r.value).event_id for r in out] == ["e1", "e1"]  # type: ignore[union-attr]
    assert failures["left"] == 0
    assert await committed_offset(kafka, group, topics.raw, 1) == 1
