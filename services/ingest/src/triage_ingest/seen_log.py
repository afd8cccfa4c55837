"""The dedupe window on Kafka, so a restart does not forget which ids were published.

After a batch's messages and events are acknowledged, ingest counts their message ids
as seen and writes them to the topic ``social.ingest-seen``, gathered for
``seen_mark_delay_ms``: one record carries the ids seen at one moment (value:
``{"at": <epoch seconds>, "ids": [...]}``, at most ``MARK_BYTES`` of them; key: a
fresh unique id, so no record replaces another). A record per id cost ingest a
produce call per message, a tenth of its CPU. The marks follow the outputs, never
precede them; their acknowledgements are not awaited before the input offsets are
committed, because a mark that is lost can only let a retry through as a duplicate,
never lose a message, and awaiting them cost each batch a round trip. At start, before
consuming, ingest reads back the ids of the last ``dedupe_window_seconds`` (at most
``dedupe_max_ids`` of them) from every partition. Records of the earlier format (key:
the id, value: when it was seen) are still read.

Bounds, documented in the ingest README: a platform's retry is recognised when it
arrives within the window, at this replica or after any restart. Between replicas
that run at the same time the window is shared only at start: a retry that lands on
another replica's raw partition within the same run is processed again (downstream
stages drop repeats by ``message_id``). A crash or a broker error between the outputs
and their marks forgets those ids at the next start: a retry of them within the window
is published again, a duplicate, never a loss.
"""

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka import KafkaBroker

from triage_ingest.dedupe import RecentIds
from triage_runtime.kafka import KafkaSettings, ensure_topics, partitions_of, read_to_end
from triage_runtime.logs import log_event
from triage_runtime.topics import TopicSettings

# Most bytes of ids one mark record carries (the producer's batches are 256 KiB by default).
MARK_BYTES = 64 * 1024


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
        for value in mark_records(marks):
            key = uuid.uuid4().hex.encode("ascii")
            future = await self.broker.publish(value, topic=self.topic, key=key, no_confirm=True)
            future.add_done_callback(partial(_report_failure, self.logger))
        return len(marks)

    async def close(self) -> None:
        """At shutdown, before the producer stops: write what still waits."""
        await self.flush()
        if self._flushing:
            await asyncio.gather(*self._flushing, return_exceptions=True)


def mark_records(marks: Sequence[tuple[str, float]]) -> Iterator[bytes]:
    """The values of the records that carry ``marks``: the ids seen at one moment together,
    each record at most about ``MARK_BYTES``."""
    by_moment: dict[float, list[str]] = {}
    for message_id, seen_at in marks:
        by_moment.setdefault(round(seen_at, 3), []).append(message_id)
    for seen_at, ids in by_moment.items():
        chunk: list[str] = []
        size = 0
        for message_id in ids:
            cost = len(message_id) + 4  # quotes, comma; escapes make a few ids longer: a bound, not a count
            if chunk and size + cost > MARK_BYTES:
                yield _mark_value(seen_at, chunk)
                chunk, size = [], 0
            chunk.append(message_id)
            size += cost
        if chunk:
            yield _mark_value(seen_at, chunk)


def _mark_value(seen_at: float, ids: list[str]) -> bytes:
    return json.dumps({"at": seen_at, "ids": ids}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def read_marks(key: bytes | None, value: bytes | None, fallback: float) -> list[tuple[str, float]]:
    """The (id, seen at) pairs of one record of the topic, of either format; [] for a
    record that is neither (logged by the caller, never fatal: it costs dedupe, not data)."""
    if value is not None and value.startswith(b"{"):
        try:
            found = json.loads(value)
            seen_at, ids = float(found["at"]), found["ids"]
        except (ValueError, KeyError, TypeError):
            return []
        if not isinstance(ids, list):
            return []
        return [(message_id, seen_at) for message_id in ids if isinstance(message_id, str)]
    if isinstance(key, bytes):  # the earlier format: one record per id
        return [(key.decode("utf-8", "replace"), _seen_at(value, fallback))]
    return []


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


async def restore_seen(
    kafka: KafkaSettings,
    topics: TopicSettings,
    recent: RecentIds,
    logger: logging.Logger,
    now: float | None = None,
) -> int:
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
        unreadable = 0
        async for record in read_to_end(consumer, starts):
            marks = read_marks(record.key, record.value, now)
            unreadable += not marks
            for message_id, seen_at in marks:
                recent.remember(message_id, seen_at)
            restored += len(marks)
    finally:
        await consumer.stop()
    if unreadable:
        log_event(logger, "seen_marks_unreadable", logging.WARNING, records=unreadable)
    return restored
