"""The shared delivery step without Kafka: one record that cannot be written is one dead
letter, a failed send commits nothing, outputs keep their order, lag counts from commits."""

import json
import logging
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka import TopicPartition

from tests.doubles import RecordingBroker, fail_first
from triage_runtime.delivery import CONSUMER_LAG, Inbound, LagGauge, Outbound, Rejected, Stage, one_at_a_time
from triage_schemas.records import SocialMessage

OUT, DLQ = "out", "dlq"


def message(n: int, permalink: str = "https://x.com/i/1") -> SocialMessage:
    return SocialMessage.model_validate(
        {"message_id": f"m{n}", "conversation_id": f"c{n % 2}", "platform": "x", "channel": "direct_message",
         "direction": "inbound", "author": {"id": "a1", "handle": "ana"}, "text": "hello", "permalink": permalink,
         "created_at": "2026-11-22T12:00:00Z", "received_at": "2026-11-22T12:00:00Z"}
    )  # fmt: skip


def to_message(inbound: Inbound) -> Sequence[Outbound]:
    data = json.loads(inbound.value)  # the stdlib parser: "\ud800" becomes a lone surrogate
    if data.get("bad"):
        raise Rejected("bad input")
    record = message(data["n"], data.get("permalink", "https://x.com/i/1"))
    return [Outbound(OUT, record.conversation_id, record)]


def inbound(**fields: Any) -> Inbound:
    return Inbound(json.dumps(fields).encode(), topic="in", partition=0, offset=fields["n"])


class Published:
    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    async def __call__(self, outputs: Sequence[Outbound]) -> None:
        self.batches.append([getattr(out.record, "message_id", "dead letter") for out in outputs])


def stage(broker: RecordingBroker, published: Published | None = None) -> Stage:
    return Stage("test", broker, DLQ, logging.getLogger("test"), on_published=published)  # type: ignore[arg-type]


async def test_an_output_that_cannot_be_written_is_its_records_dead_letter_and_neighbours_flow() -> None:
    broker = RecordingBroker()
    # a field without constraints lets a lone surrogate through validation: only writing fails
    batch = [inbound(n=1), inbound(n=2, permalink="\ud800"), inbound(n=3)]

    await stage(broker).handle(batch, one_at_a_time(to_message))

    assert [s.json()["message_id"] for s in broker.on(OUT)] == ["m1", "m3"]
    [letter] = [s.json() for s in broker.on(DLQ)]
    assert letter["error"].startswith("its SocialMessage output cannot be written as JSON")
    assert "surrogates not allowed" in letter["error"]
    assert letter["source_offset"] == 2


async def test_an_output_over_the_record_limit_is_a_dead_letter() -> None:
    def huge(inbound: Inbound) -> Sequence[Outbound]:
        record = message(1).model_copy(update={"text": "x" * 1_100_000})
        return [Outbound(OUT, "c1", record)]

    broker = RecordingBroker()
    await stage(broker).handle([inbound(n=1)], one_at_a_time(huge))

    assert broker.on(OUT) == []
    [letter] = [s.json() for s in broker.on(DLQ)]
    assert "over Kafka's 1,000,000-byte record limit" in letter["error"]


async def test_a_failed_send_raises_and_nothing_counts_as_published() -> None:
    broker = RecordingBroker(fail_when=fail_first(1))
    published = Published()

    with pytest.raises(ConnectionError):
        await stage(broker, published).handle([inbound(n=1), inbound(n=2)], one_at_a_time(to_message))

    assert published.batches == []  # so ingest's dedupe, for one, has not moved


async def test_outputs_are_sent_in_order_and_published_state_moves_after_the_acknowledgements() -> None:
    broker = RecordingBroker()
    published = Published()
    batch = [inbound(n=n) for n in range(1, 7)] + [inbound(n=7, bad=True)]

    await stage(broker, published).handle(batch, one_at_a_time(to_message))

    assert [s.json()["message_id"] for s in broker.on(OUT)] == ["m1", "m2", "m3", "m4", "m5", "m6"]
    assert published.batches == [["m1", "m2", "m3", "m4", "m5", "m6", "dead letter"]]


class Record:
    def __init__(self, offset: int) -> None:
        self.topic, self.partition, self.offset = "in", 0, offset


class Consumer:
    def __init__(self, highwater: int, committed: int) -> None:
        self._highwater, self._committed = highwater, committed

    def highwater(self, _: TopicPartition) -> int:
        return self._highwater

    async def committed(self, _: TopicPartition) -> int:
        return self._committed


def lag(stage_name: str) -> float | None:
    return CONSUMER_LAG.labels(stage_name, "in", "0")._value.get()


async def test_lag_counts_from_the_committed_offset_while_a_batch_keeps_failing() -> None:
    gauge = LagGauge("lag-test")
    consumer = Consumer(highwater=100, committed=20)

    await gauge.update(consumer, [Record(20), Record(21)], processed=False)
    assert lag("lag-test") == 80  # not 78: the two records read were not committed

    await gauge.update(consumer, [Record(20), Record(21)], processed=True)
    assert lag("lag-test") == 78
    await gauge.update(consumer, [Record(22)], processed=False)
    assert lag("lag-test") == 78
