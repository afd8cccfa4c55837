"""Delivery semantics, decided once: at-least-once consume, process, publish.

* A stage's decision logic is a plain function from one inbound record to the
  records it produces (``Outbound``), raising ``Rejected`` for input it cannot use.
* ``Stage.handle`` runs that function over a batch and serialises every output inside
  the step of the record that caused it, so a rejection, a processing error or an
  output that cannot be written (a lone surrogate in a user name, an oversized record)
  is that one record's dead letter and never fails its neighbours. It then sends the
  whole batch's outputs one after another and awaits every acknowledgement together.
* State a stage keeps about what it has published (ingest's seen message ids) moves
  only in ``on_published``, after every output of the batch is acknowledged: a failed
  publish leaves it untouched, so the redelivered batch is processed as if new.
* The Kafka wiring (``subscribe``) commits the offsets only after ``handle`` returned;
  if publishing fails (broker down) the exception rewinds the consumer to the batch's
  first record, so it is processed again and nothing is committed past it.
* Producers use ``acks=all`` and idempotence (see ``triage_runtime.kafka.make_broker``).
A redelivered record may therefore be published twice; downstream stages recognise
duplicates by ``message_id`` / ``event_id`` / ``alert_id``. Lag is exported from the
offsets the group has committed, so a stage that keeps failing on a batch shows its
lag growing instead of the distance to the last record it merely read.
"""

import asyncio
import base64
import collections
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.subscriber.usecase import BatchSubscriber as KafkaBatchSubscriber
from prometheus_client import Counter, Gauge

from triage_runtime import tracing
from triage_runtime.logs import log_event
from triage_schemas.records import DeadLetter, Record, utcnow

RECORDS_IN = Counter("triage_stage_records_in_total", "Records consumed by a stage", ["stage"])
RECORDS_OUT = Counter("triage_stage_records_out_total", "Records published by a stage", ["stage", "topic"])
CONSUMER_LAG = Gauge(
    "triage_consumer_lag_records",
    "Records on a partition not yet committed by the stage (high watermark minus committed offset)",
    ["stage", "topic", "partition"],
)
DEAD_LETTERS = Counter("triage_stage_dead_letters_total", "Records a stage sent to the dead-letter topic", ["stage"])


class Rejected(Exception):
    """The input cannot be used; ``reason`` tells a person what to fix."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Inbound:
    value: bytes
    key: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None

    @classmethod
    def from_consumer_record(cls, record: "ConsumerRecord[Any, Any]") -> "Inbound":
        value = record.value if isinstance(record.value, bytes) else b""
        key = record.key if isinstance(record.key, bytes) or record.key is None else None
        return cls(
            value=value,
            key=key,
            headers={name: raw.decode("utf-8", "backslashreplace") for name, raw in (record.headers or ())},
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )


@dataclass(frozen=True, slots=True)
class Outbound:
    topic: str
    key: str
    record: Record


Result = Sequence[Outbound] | Rejected
ProcessOne = Callable[[Inbound], Sequence[Outbound]]
ProcessBatch = Callable[[Sequence[Inbound]], Sequence[Result]]


# A dead letter must itself fit in a Kafka record (1 MiB by default) once escaped as JSON
# or base64, or publishing it would fail and stall the stage on the poison record.
MAX_DEAD_LETTER_ORIGINAL = 256 * 1024


def dead_letter(
    stage: str, inbound: Inbound, reason: str, max_original: int = MAX_DEAD_LETTER_ORIGINAL, as_text: bool = True
) -> DeadLetter:
    """``as_text`` False keeps the original as base64 even when it is UTF-8."""
    value = inbound.value
    if len(value) > max_original:
        reason += f" (original truncated to its first {max_original:,} of {len(value):,} bytes)"
        value = value[:max_original]
    text: str | None = None
    if as_text:
        with contextlib.suppress(UnicodeDecodeError):
            text = value.decode("utf-8")
    original, encoding = (text, "utf-8") if text is not None else (base64.b64encode(value).decode("ascii"), "base64")
    return DeadLetter(
        stage=stage,
        error=reason,
        original=original,
        original_encoding=encoding,
        headers=dict(inbound.headers),
        source_topic=inbound.topic,
        source_partition=inbound.partition,
        source_offset=inbound.offset,
        at=utcnow(),
    )


def one_at_a_time(process: ProcessOne) -> ProcessBatch:
    """Lift a per-record function to a batch one, keeping errors per record."""

    def run(batch: Sequence[Inbound]) -> list[Result]:
        results: list[Result] = []
        trace = tracing.deciding()  # None unless tracing is on: one look per batch
        for inbound in batch:
            try:
                if trace is None:
                    results.append(process(inbound))
                else:
                    with trace.deciding(inbound):  # the record's decide span
                        results.append(process(inbound))
            except Rejected as rejected:
                results.append(rejected)
        return results

    return run


@dataclass(frozen=True, slots=True)
class Encoded:
    """An output serialised and ready to send: what will be written, checked before sending."""

    topic: str
    key: bytes
    value: bytes
    outbound: Outbound


OnPublished = Callable[[Sequence[Outbound]], Awaitable[None]]

MAX_OUTPUT_BYTES = 1_000_000
"""Kafka's default largest record (1 MiB), key and value together, less room for headers."""
MAX_REASON_CHARS = 2_000


def encode(outbound: Outbound) -> Encoded:
    """Serialise one output, or raise ``Rejected`` saying why it cannot be written."""
    try:
        value = outbound.record.to_json_bytes()
        key = outbound.key.encode("utf-8")
    except (ValueError, UnicodeError) as error:  # PydanticSerializationError is a ValueError
        raise Rejected(
            f"its {outbound.record.__class__.__name__} output cannot be written as JSON: {_short(error)}"
        ) from None
    if len(key) + len(value) > MAX_OUTPUT_BYTES:
        raise Rejected(
            f"its {outbound.record.__class__.__name__} output is {len(key) + len(value):,} bytes with its key, "
            f"over Kafka's {MAX_OUTPUT_BYTES:,}-byte record limit"
        )
    return Encoded(outbound.topic, key, value, outbound)


def _short(error: Exception) -> str:
    # Serialisation errors name the offending character and position, never the text.
    return f"{type(error).__name__}: {str(error).splitlines()[-1][:200]}"


class Stage:
    """One pipeline stage's consume-process-publish step (see the module docstring)."""

    def __init__(
        self,
        name: str,
        broker: KafkaBroker,
        dlq_topic: str,
        logger: logging.Logger,
        on_published: OnPublished | None = None,
    ) -> None:
        self.name = name
        self.broker = broker
        self.dlq_topic = dlq_topic
        self.logger = logger
        self.on_published = on_published

    def outcomes(
        self, batch: Sequence[Inbound], process: ProcessBatch, trace: "tracing.BatchTrace | None" = None
    ) -> list[Encoded]:
        """Run the decision logic and serialise its outputs: every input yields its
        outputs, all of them writable, or exactly one dead letter."""
        if trace is not None:
            return self._traced_outcomes(batch, process, trace)
        outputs: list[Encoded] = []
        for inbound, result in zip(batch, self._run(batch, process), strict=True):
            outputs.extend(self._outcome(inbound, result))
        return outputs

    def _outcome(self, inbound: Inbound, result: Result) -> list[Encoded]:
        if not isinstance(result, Rejected):
            try:
                return [encode(out) for out in result]
            except Rejected as rejected:
                result = rejected
        return [self._dead_letter(inbound, result.reason)]

    def _traced_outcomes(
        self, batch: Sequence[Inbound], process: ProcessBatch, trace: "tracing.BatchTrace"
    ) -> list[Encoded]:
        outputs: list[Encoded] = []
        for inbound, result in zip(batch, trace.decide(lambda: self._run(batch, process)), strict=True):
            with trace.record(inbound):  # a dead letter's log line carries the record's trace id
                encoded = self._outcome(inbound, result)
            trace.produced(inbound, encoded, dead_letter=_is_dead_letter(encoded))
            outputs.extend(encoded)
        return outputs

    def _dead_letter(self, inbound: Inbound, reason: str) -> Encoded:
        if len(reason) > MAX_REASON_CHARS:
            # a reason may quote what it refuses (a record_type, a pydantic tag): never at length
            reason = reason[:MAX_REASON_CHARS] + f"... ({len(reason):,} characters in all)"
        DEAD_LETTERS.labels(self.name).inc()
        log_event(
            self.logger,
            "dead_lettered",
            logging.WARNING,
            stage=self.name,
            reason=reason[:300],
            topic=inbound.topic,
            partition=inbound.partition,
            offset=inbound.offset,
        )
        key = _dlq_key(inbound)
        try:
            return encode(Outbound(self.dlq_topic, key, dead_letter(self.name, inbound, reason)))
        except Rejected:
            # Escaping can grow a text original past the record limit (a control
            # character becomes six bytes); base64 of a shorter prefix always fits.
            safe_reason = reason.encode("utf-8", "backslashreplace").decode("utf-8")
            letter = dead_letter(
                self.name, inbound, safe_reason, max_original=MAX_DEAD_LETTER_ORIGINAL // 2, as_text=False
            )
            return encode(Outbound(self.dlq_topic, key, letter))

    def _run(self, batch: Sequence[Inbound], process: ProcessBatch) -> Sequence[Result]:
        try:
            return process(batch)
        except Exception as error:
            if len(batch) > 1:
                # Retry record by record so one poison record cannot take its
                # neighbours to the dead-letter topic with it.
                return [result for inbound in batch for result in self._run([inbound], process)]
            self.logger.error("processing_failed", exc_info=True, extra={"fields": {"stage": self.name}})
            return [Rejected(f"internal error ({type(error).__name__}) while processing; see the {self.name} log")]

    async def publish(self, outputs: Sequence[Encoded], trace: "tracing.BatchTrace | None" = None) -> None:
        """Send every output, then wait for every acknowledgement; raises if any send fails.

        Records are handed to the producer one after another (it batches them per
        partition, keeping each key's order) and only then awaited together: no task
        per record, and the producer's batches fill up. Untraced, every output shares
        one header dict; traced, each gets its own with its publish span's traceparent.
        """
        pending: list[asyncio.Future[Any]] = []
        try:
            for out in outputs:
                headers = _HEADERS if trace is None else trace.send(out, out.topic, _record_type(out), _HEADERS)
                pending.append(
                    await self.broker.publish(out.value, topic=out.topic, key=out.key, headers=headers, no_confirm=True)
                )
        finally:
            # Await what was handed over even when a later send failed, so no
            # acknowledgement is left unobserved; the first error is raised.
            results = await asyncio.gather(*pending, return_exceptions=True)
            if trace is not None:
                trace.sent(results)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        # one counter update per topic, not per record: this runs for every batch
        for topic, count in collections.Counter(out.topic for out in outputs).items():
            RECORDS_OUT.labels(self.name, topic).inc(count)

    async def handle(self, batch: Sequence[Inbound], process: ProcessBatch) -> None:
        RECORDS_IN.labels(self.name).inc(len(batch))
        trace = tracing.batch(self.name, batch, self.logger)  # None when tracing is off
        try:
            outputs = self.outcomes(batch, process, trace)
            await self.publish(outputs, trace)
            if self.on_published is not None:
                await self.on_published([out.outbound for out in outputs])
        except BaseException as error:
            if trace is not None:
                trace.failed(error)
            raise
        finally:
            if trace is not None:
                trace.end()


_HEADERS = {"content-type": "application/json"}


def _is_dead_letter(encoded: Sequence[Encoded]) -> bool:
    return len(encoded) == 1 and isinstance(encoded[0].outbound.record, DeadLetter)


def _record_type(out: Encoded) -> str:
    return str(getattr(out.outbound.record, "record_type", type(out.outbound.record).__name__))


def _dlq_key(inbound: Inbound) -> str:
    if inbound.key:
        return inbound.key.decode("utf-8", "backslashreplace")
    return f"{inbound.topic}-{inbound.partition}-{inbound.offset}"


class LagGauge:
    """Exports each partition's lag as the high watermark minus the group's committed
    offset: what a restart would have to read again, and what grows while a batch keeps
    failing (the distance to the last record read stays small while the stage stalls)."""

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.committed: dict[TopicPartition, int] = {}

    async def update(self, consumer: Any, records: Sequence["ConsumerRecord[Any, Any]"], *, processed: bool) -> None:
        partitions: dict[TopicPartition, int] = {}
        for record in records:
            partitions[TopicPartition(record.topic, record.partition)] = record.offset + 1
        for tp, next_offset in partitions.items():
            if processed:
                self.committed[tp] = next_offset  # the delivery step commits right after
            elif tp not in self.committed:
                with contextlib.suppress(Exception):  # best effort: the gauge must never fail the batch
                    self.committed[tp] = await consumer.committed(tp) or 0
            highwater = consumer.highwater(tp) if hasattr(consumer, "highwater") else None
            if highwater is not None and tp in self.committed:
                CONSUMER_LAG.labels(self.stage, tp.topic, str(tp.partition)).set(max(0, highwater - self.committed[tp]))


async def _raw_bytes(message: Any) -> Any:
    # Hand the handler the undecoded message: decoding is the stage's job, so
    # malformed JSON becomes a dead letter rather than a framework error. A coroutine,
    # because FastStream runs a plain function decoder in a worker thread: a thread
    # hand-off per batch for returning an attribute.
    return message.body


def wait_without_idle_sleep(subscriber: Any) -> None:
    """Make a FastStream batch subscriber wait for records only inside ``getmany``.

    FastStream's batch loop sleeps ``batch_timeout_ms`` after every empty ``getmany``;
    a record that lands during that sleep waits for it, which cost a lone message up
    to 20 ms per stage (four stages: most of a quiet inbox's raw -> routed time).
    ``getmany`` already returns as soon as a fetch brings records, so the sleep only
    adds delay: this loop waits in ``getmany`` alone and loops straight back when it
    comes back empty.
    """

    if not isinstance(subscriber, KafkaBatchSubscriber):
        raise TypeError(f"expected FastStream's Kafka batch subscriber, got {type(subscriber).__name__}")

    async def get_msg(consumer: AIOKafkaConsumer) -> tuple["ConsumerRecord[Any, Any]", ...]:
        batches = await consumer.getmany(timeout_ms=subscriber.batch_timeout_ms, max_records=subscriber.max_records)
        return tuple(itertools.chain.from_iterable(batches.values()))

    subscriber.get_msg = get_msg  # type: ignore[method-assign]


def subscribe(
    broker: KafkaBroker,
    stage: Stage,
    topic: str | Sequence[str],
    group_id: str,
    process: ProcessBatch,
    *,
    batch: bool = False,
    max_records: int = 500,
    extra: Callable[[Sequence[Inbound]], Awaitable[None]] | None = None,
    listener: ConsumerRebalanceListener | None = None,
    co_partitioned: bool = False,
    tuning: Mapping[str, Any] | None = None,
    ready: Callable[[], Awaitable[Any]] | None = None,
) -> None:
    """Wire ``process`` to ``topic`` (or several, read by one consumer) with
    commit-after-publish semantics.

    ``ready``, when given, is awaited before each batch: a stage that restores state in its
    ``listener`` holds its batches until that is done. aiokafka marks the new assignment
    before it awaits ``on_partitions_assigned``, so records of a newly assigned partition
    can arrive while the listener still restores what they depend on.

    ``extra``, when given, runs after the outputs are published and before the
    commit (the SLA monitor uses it to persist its clocks); ``listener`` hears of
    partitions assigned and revoked (the SLA monitor restores and drops clocks).
    ``tuning`` holds the consumer's latency knobs (``KafkaSettings.consumer_options``).
    ``co_partitioned`` topics share keys and partition counts: range assignment gives
    each member the same partition numbers of every topic (the default round robin
    would split a partition number across members).
    """

    lag = LagGauge(stage.name)

    context = broker.context

    async def handler(_body: Any) -> None:
        # The broker runs without dependency injection (see make_broker): the message
        # comes from FastStream's context, the body (raw bytes) is unused.
        message: KafkaMessage = context.get_local("message")
        raw = message.raw_message
        records = raw if isinstance(raw, tuple) else (raw,)
        inbound = [Inbound.from_consumer_record(r) for r in records]
        if ready is not None:
            await ready()
        processed = False
        try:
            await stage.handle(inbound, process)
            if extra is not None:
                await extra(inbound)
            processed = True
        finally:
            await lag.update(message.consumer, records, processed=processed)

    options: dict[str, Any] = {
        "group_id": group_id,
        "auto_offset_reset": "earliest",
        # NACK on error rewinds to the unprocessed record; ACK_FIRST (the default)
        # would commit before processing and lose the record on a crash.
        "ack_policy": AckPolicy.NACK_ON_ERROR,
        "decoder": _raw_bytes,
        "no_reply": True,
    }
    if listener is not None:
        options["listener"] = listener
    options.update(tuning or {})
    if not batch:
        options.pop("batch_timeout_ms", None)
    if co_partitioned:
        options["partition_assignment_strategy"] = (RangePartitionAssignor,)
    topics = (topic,) if isinstance(topic, str) else tuple(topic)
    if batch:
        subscriber = broker.subscriber(*topics, batch=True, max_records=max_records, **options)
        subscriber(handler)
        wait_without_idle_sleep(subscriber)
    else:
        broker.subscriber(*topics, **options)(handler)
