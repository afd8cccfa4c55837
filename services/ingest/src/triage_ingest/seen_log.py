"""The dedupe window on Kafka, so a restart does not forget which ids were published.

After a batch's messages and events are acknowledged, ingest writes each of their
message ids to the compacted topic ``social.ingest-seen`` (key: the id, value: when it
was seen, epoch seconds) and awaits those acknowledgements before the input offsets
are committed. At start, before consuming, it reads back the ids of the last
``dedupe_window_seconds`` (at most ``dedupe_max_ids`` of them) from every partition.

Bounds, documented in the ingest README: a platform's retry is recognised when it
arrives within the window, at this replica or after any restart. Between replicas
that run at the same time the window is shared only at start: a retry that lands on
another replica's raw partition within the same run is processed again (downstream
stages drop repeats by ``message_id``). If the ids cannot be written after the
outputs were, the batch is redelivered and published again: a duplicate, never a loss.
"""

import asyncio
import time
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka import KafkaBroker

from triage_ingest.dedupe import RecentIds
from triage_schemas.kafka import KafkaSettings, ensure_topics, partitions_of, read_to_end
from triage_schemas.topics import TopicSettings


async def write_seen(broker: KafkaBroker, topic: str, ids: Iterable[str], seen_at: float) -> int:
    """Write the ids and wait for every acknowledgement; raises if any send fails."""
    value = f"{seen_at:.3f}".encode("ascii")
    pending: list[asyncio.Future[Any]] = []
    try:
        for message_id in ids:
            pending.append(await broker.publish(value, topic=topic, key=message_id.encode("utf-8"), no_confirm=True))
    finally:
        results = await asyncio.gather(*pending, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return len(pending)


def _seen_at(value: bytes | None, fallback: float) -> float:
    try:
        return float(value) if value else fallback
    except ValueError:
        return fallback


async def restore_seen(kafka: KafkaSettings, topics: TopicSettings, recent: RecentIds, now: float | None = None) -> int:
    """Fill ``recent`` with the ids seen within its window; returns how many were read."""
    await ensure_topics(kafka, topics, [topics.ingest_seen])
    now = time.time() if now is None else now
    partitions = await partitions_of(kafka, topics.ingest_seen)
    if not partitions:
        return 0
    consumer = AIOKafkaConsumer(**kafka.admin_client_kwargs(), enable_auto_commit=False)
    await consumer.start()
    restored = 0
    try:
        ends = await consumer.end_offsets(partitions)
        found = await consumer.offsets_for_times({tp: int((now - recent.window) * 1000) for tp in partitions})
        # at most the ids the window can hold, spread over the partitions
        per_partition = max(1, recent.max_entries // len(partitions))
        starts: dict[TopicPartition, int | None] = {}
        for tp in partitions:
            at = found.get(tp)
            starts[tp] = max(at.offset if at is not None else ends[tp], ends[tp] - per_partition, 0)
        async for record in read_to_end(consumer, starts):
            if isinstance(record.key, bytes):
                recent.remember(record.key.decode("utf-8", "replace"), _seen_at(record.value, now))
                restored += 1
    finally:
        await consumer.stop()
    return restored
