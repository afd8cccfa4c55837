"""The dedupe window on Kafka, so a restart does not forget which ids were published.

After a batch's messages and events are acknowledged, ingest counts their message ids
as seen and writes each to the compacted topic ``social.ingest-seen`` (key: the id,
value: when it was seen, epoch seconds), gathered for ``seen_mark_delay_ms`` and written
together. The marks follow the outputs, never precede them; their acknowledgements are
not awaited before the input offsets are committed,
because a mark that is lost can only let a retry through as a duplicate, never lose a
message, and awaiting them cost each batch a round trip. At start, before consuming,
ingest reads back the ids of the last ``dedupe_window_seconds`` (at most
``dedupe_max_ids`` of them) from every partition.

Bounds, documented in the ingest README: a platform's retry is recognised when it
arrives within the window, at this replica or after any restart. Between replicas
that run at the same time the window is shared only at start: a retry that lands on
another replica's raw partition within the same run is processed again (downstream
stages drop repeats by ``message_id``). A crash or a broker error between the outputs
and their marks forgets those ids at the next start: a retry of them within the window
is published again, a duplicate, never a loss.
"""

import asyncio
import logging
import time
from collections.abc import Iterable
from functools import partial
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka import KafkaBroker

from triage_ingest.dedupe import RecentIds
from triage_runtime.kafka import KafkaSettings, ensure_topics, partitions_of, read_to_end
from triage_runtime.logs import log_event
from triage_runtime.topics import TopicSettings


class SeenMarks:
    """Marks wait up to ``delay`` seconds and go to the producer together.

    Sent per batch, a batch's marks were a produce request of their own, and the
    producer keeps one request in flight per broker: the next batch's outputs waited
    behind them (a third of ingest's time per message at 300 msg/s). Gathered, they
    cost one request per ``delay``. A crash loses at most the marks of the last
    ``delay``: a retry of those ids may be published again, never lost (see above).
    """

    def __init__(self, broker: KafkaBroker, topic: str, logger: logging.Logger, delay: float) -> None:
        self.broker = broker
        self.topic = topic
        self.logger = logger
        self.delay = delay
        self.pending: list[tuple[str, float]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[int]] = set()

    def add(self, ids: Iterable[str], seen_at: float) -> None:
        self.pending.extend((message_id, seen_at) for message_id in ids)
        if self.pending and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.delay, self._flush_soon)

    def _flush_soon(self) -> None:
        self._timer = None
        task = asyncio.get_running_loop().create_task(self.flush())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def flush(self) -> int:
        """Hand every pending mark to the producer; their acknowledgements are not awaited."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        marks, self.pending = self.pending, []
        for message_id, seen_at in marks:
            value = f"{seen_at:.3f}".encode("ascii")
            future = await self.broker.publish(value, topic=self.topic, key=message_id.encode("utf-8"), no_confirm=True)
            future.add_done_callback(partial(_report_failure, self.logger))
        return len(marks)

    async def close(self) -> None:
        """At shutdown, before the producer stops: write what still waits."""
        await self.flush()
        if self._flushing:
            await asyncio.gather(*self._flushing, return_exceptions=True)


def _report_failure(logger: logging.Logger, future: "asyncio.Future[Any]") -> None:
    if future.cancelled() or future.exception() is None:
        return
    # Only the dedupe across a restart is weaker for it: a retry may be published twice.
    log_event(logger, "seen_mark_failed", logging.WARNING, error=type(future.exception()).__name__)


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
