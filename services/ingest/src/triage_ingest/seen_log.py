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
import math
import time
import uuid
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from json.encoder import encode_basestring_ascii
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka import KafkaBroker

from triage_ingest.dedupe import RecentIds
from triage_runtime.kafka import KafkaSettings, ensure_topics, partitions_of, read_to_end
from triage_runtime.logs import log_event
from triage_runtime.topics import TopicSettings

# Most bytes of ids one mark record carries (the producer's batches are 256 KiB by default).
MARK_BYTES = 64 * 1024
_JSON_HEADERS = {"content-type": "application/json"}


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
        # the ids of each batch under the moment they were seen (ms): one record's worth each
        self.pending: dict[float, list[str]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[int]] = set()

    def add(self, ids: Iterable[str], seen_at: float) -> None:
        ids = list(ids)
        if ids:
            self.pending.setdefault(round(seen_at, 3), []).extend(ids)
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
        moments, self.pending = self.pending, {}
        for value in _records_by_moment(moments):
            key = uuid.uuid4().hex.encode("ascii")
            future = await self.broker.publish(value, topic=self.topic, key=key, headers=_JSON_HEADERS, no_confirm=True)
            future.add_done_callback(partial(_report_failure, self.logger))
        return sum(len(ids) for ids in moments.values())

    async def close(self) -> None:
        """At shutdown, before the producer stops: write what still waits."""
        await self.flush()
        if self._flushing:
            await asyncio.gather(*self._flushing, return_exceptions=True)


def mark_records(marks: Sequence[tuple[str, float]]) -> Iterator[bytes]:
    """The values of the records that carry ``marks``: the ids seen at one moment together,
    each record's ids at most ``MARK_BYTES`` (one id alone may pass it: ids are bounded)."""
    by_moment: dict[float, list[str]] = {}
    for message_id, seen_at in marks:
        by_moment.setdefault(round(seen_at, 3), []).append(message_id)
    return _records_by_moment(by_moment)


def _records_by_moment(by_moment: dict[float, list[str]]) -> Iterator[bytes]:
    for seen_at, ids in by_moment.items():
        # ASCII JSON: its length is its size in bytes, and an id that is not valid
        # UTF-8 (a lone surrogate) is escaped rather than failing the whole flush.
        encoded: list[str] = []
        size = 0
        for message_id in ids:
            one = encode_basestring_ascii(message_id)
            if encoded and size + len(one) + 1 > MARK_BYTES:
                yield _mark_value(seen_at, encoded)
                encoded, size = [], 0
            encoded.append(one)
            size += len(one) + 1
        if encoded:
            yield _mark_value(seen_at, encoded)


def _mark_value(seen_at: float, encoded_ids: list[str]) -> bytes:
    return f'{{"at":{seen_at!r},"ids":[{",".join(encoded_ids)}]}}'.encode("ascii")


def read_marks(key: bytes | None, value: bytes | None, fallback: float) -> list[tuple[str, float]] | None:
    """The (id, seen at) pairs of one record of the topic, of either format; None for a
    record that is neither (logged by the caller, never fatal: it costs dedupe, not data)."""
    if value is not None and value.startswith(b"{"):
        try:
            found = json.loads(value)
            seen_at, ids = float(found["at"]), found["ids"]
        except (ValueError, KeyError, TypeError, RecursionError):
            return None
        if not isinstance(ids, list) or not math.isfinite(seen_at):
            return None
        return [(message_id, seen_at) for message_id in ids if isinstance(message_id, str)]
    if isinstance(key, bytes):  # the earlier format: one record per id
        return [(key.decode("utf-8", "replace"), _seen_at(value, fallback))]
    return None


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


class NewestMarks:
    """The newest ``per_partition`` marks of each partition, as the records are read
    oldest first: memory stays within the bound however many ids the records carry."""

    def __init__(self, per_partition: int) -> None:
        self.per_partition = per_partition
        self._by_partition: dict[int, deque[tuple[str, float]]] = {}

    def add(self, partition: int, marks: Iterable[tuple[str, float]]) -> None:
        found = self._by_partition.get(partition)
        if found is None:
            found = self._by_partition[partition] = deque(maxlen=self.per_partition)
        found.extend(marks)

    def kept(self) -> list[tuple[str, float]]:
        """Oldest first, the order ``RecentIds`` forgets in."""
        return sorted((mark for marks in self._by_partition.values() for mark in marks), key=lambda mark: mark[1])


async def restore_seen(
    kafka: KafkaSettings,
    topics: TopicSettings,
    recent: RecentIds,
    logger: logging.Logger,
    now: float | None = None,
) -> int:
    """Fill ``recent`` with the newest ids seen within its window, at most its
    ``max_entries`` spread over the partitions; returns how many it remembered.

    A record carries many ids, so the records of the window are read whole and only the
    newest ids of each partition are kept while reading: memory stays within the bound,
    and the ids kept are the newest, not the last read."""
    await ensure_topics(kafka, topics, [topics.ingest_seen])
    now = time.time() if now is None else now
    partitions = await partitions_of(kafka, topics.ingest_seen)
    if not partitions:
        return 0
    per_partition = max(1, recent.max_entries // len(partitions))
    newest = NewestMarks(per_partition)
    consumer = AIOKafkaConsumer(**kafka.admin_client_kwargs(), enable_auto_commit=False)
    await consumer.start()
    unreadable = 0
    try:
        ends = await consumer.end_offsets(partitions)
        found = await consumer.offsets_for_times({tp: int((now - recent.window) * 1000) for tp in partitions})
        # A record holds at least one id: more records than ids kept are never needed.
        starts: dict[TopicPartition, int | None] = {}
        for tp in partitions:
            at = found.get(tp)
            starts[tp] = max(at.offset if at is not None else ends[tp], ends[tp] - per_partition, 0)
        async for record in read_to_end(consumer, starts):
            marks = read_marks(record.key, record.value, now)
            if marks is None:
                unreadable += 1
                continue
            newest.add(record.partition, marks)
    finally:
        await consumer.stop()
    if unreadable:
        log_event(logger, "seen_marks_unreadable", logging.WARNING, records=unreadable)
    kept = newest.kept()
    for message_id, seen_at in kept:
        recent.remember(message_id, seen_at)
    return len(kept)
