"""How a stage's subscription waits for records."""

from typing import Any

import anyio
import pytest
from aiokafka import ConsumerRecord, TopicPartition
from faststream.kafka import KafkaBroker

from triage_runtime.delivery import wait_without_idle_sleep
from triage_runtime.kafka import GATHER_BYTES, KafkaSettings


class PolledConsumer:
    """Answers getmany with the queued results and remembers how it was asked."""

    def __init__(self, *results: dict[TopicPartition, list[Any]]) -> None:
        self.results = list(results)
        self.calls: list[dict[str, Any]] = []

    async def getmany(self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None) -> Any:
        self.calls.append({"timeout_ms": timeout_ms, "max_records": max_records})
        return self.results.pop(0)


def record(partition: int, offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("t", partition, offset, 0, 0, b"k", b"v", None, 1, 1, ())


@pytest.fixture
def subscriber() -> Any:
    broker = KafkaBroker()
    sub = broker.subscriber("t", batch=True, group_id="g", batch_timeout_ms=250, max_records=7)
    wait_without_idle_sleep(sub)
    return sub


async def test_an_empty_poll_returns_at_once_instead_of_sleeping(
    subscriber: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_sleep(seconds: float) -> None:
        raise AssertionError(f"the consume loop slept {seconds} s after an empty poll")

    monkeypatch.setattr(anyio, "sleep", no_sleep)
    consumer = PolledConsumer({})
    assert await subscriber.get_msg(consumer) == ()
    # the wait happens inside the poll, for the configured time and batch size
    assert consumer.calls == [{"timeout_ms": 250, "max_records": 7}]


async def test_records_of_every_partition_come_back_as_one_batch(subscriber: Any) -> None:
    first, second = TopicPartition("t", 0), TopicPartition("t", 1)
    consumer = PolledConsumer({first: [record(0, 4), record(0, 5)], second: [record(1, 9)]})
    batch = await subscriber.get_msg(consumer)
    assert [(r.partition, r.offset) for r in batch] == [(0, 4), (0, 5), (1, 9)]


def test_only_a_batch_subscriber_can_be_changed() -> None:
    single = KafkaBroker().subscriber("t", group_id="g")
    with pytest.raises(TypeError, match="batch subscriber"):
        wait_without_idle_sleep(single)


def test_gathering_lets_the_broker_hold_a_fetch_until_a_batch_is_there() -> None:
    settings = KafkaSettings()
    prompt = settings.consumer_options()
    assert "fetch_min_bytes" not in prompt
    gathered = settings.consumer_options(gather_ms=300)
    assert gathered["fetch_max_wait_ms"] == 300
    assert gathered["fetch_min_bytes"] == GATHER_BYTES
    assert gathered["batch_timeout_ms"] >= 300
