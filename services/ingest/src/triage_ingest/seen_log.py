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
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker

from triage_ingest.dedupe import RecentIds
from triage_schemas.kafka import KafkaSettings, ensure_topics
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
    consumer = AIOKafkaConsumer(**kafka.admin_client_kwargs(), enable_auto_commit=False)
    await consumer.start()
    restored = 0
    try:
        partitions = [TopicPartition(topics.ingest_seen, p) for p in await _partitions(kafka, topics.ingest_seen)]
        if not partitions:
            return 0
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.offsets_for_times({tp: int((now - recent.window) * 1000) for tp in partitions})
        per_partition = max(1, recent.max_entries // len(partitions))
        remaining: set[TopicPartition] = set()
        for tp in partitions:
            found = starts.get(tp)
            start = found.offset if found is not None else ends[tp]
            start = max(start, ends[tp] - per_partition)
            if start < ends[tp]:
                consumer.seek(tp, start)
                remaining.add(tp)
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    if isinstance(record.key, bytes):
                        recent.remember(record.key.decode("utf-8", "replace"), _seen_at(record.value, now))
                        restored += 1
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return restored


async def _partitions(kafka: KafkaSettings, topic: str) -> set[int]:
    admin = AIOKafkaAdminClient(**kafka.admin_client_kwargs())
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return {p["partition"] for p in described["partitions"]}
