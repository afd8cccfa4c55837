"""Delivery semantics, decided once: at-least-once consume, process, publish.

* A stage's decision logic is a plain function from one inbound record to the
  records it produces (``Outbound``), raising ``Rejected`` for input it cannot use.
* ``Stage.handle`` runs that function over a batch, turns every rejection or
  processing error into a dead letter, publishes everything and only then returns.
* The Kafka wiring (``subscribe``) commits the offsets only after ``handle`` returned;
  if publishing fails (broker down) the exception rewinds the consumer to the batch's
  first record, so it is processed again and nothing is committed past it.
* Producers use ``acks=all`` and idempotence (see ``triage_schemas.kafka.make_broker``).
A redelivered record may therefore be published twice; downstream stages recognise
duplicates by ``message_id`` / ``event_id`` / ``alert_id``.
"""

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from prometheus_client import Counter, Gauge

from triage_schemas.logs import log_event
from triage_schemas.records import DeadLetter, Record, utcnow

RECORDS_IN = Counter("triage_stage_records_in_total", "Records consumed by a stage", ["stage"])
RECORDS_OUT = Counter("triage_stage_records_out_total", "Records published by a stage", ["stage", "topic"])
CONSUMER_LAG = Gauge(
    "triage_consumer_lag_records",
    "Records on a partition not yet consumed by the stage (high watermark minus next offset)",
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


def dead_letter(stage: str, inbound: Inbound, reason: str) -> DeadLetter:
    value = inbound.value
    if len(value) > MAX_DEAD_LETTER_ORIGINAL:
        reason += f" (original truncated to its first {MAX_DEAD_LETTER_ORIGINAL:,} of {len(value):,} bytes)"
        value = value[:MAX_DEAD_LETTER_ORIGINAL]
    try:
        original, encoding = value.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        original, encoding = base64.b64encode(value).decode("ascii"), "base64"
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
        for inbound in batch:
            try:
                results.append(process(inbound))
            except Rejected as rejected:
                results.append(rejected)
        return results

    return run


class Stage:
    """One pipeline stage's consume-process-publish step (see the module docstring)."""

    def __init__(self, name: str, broker: KafkaBroker, dlq_topic: str, logger: logging.Logger) -> None:
        self.name = name
        self.broker = broker
        self.dlq_topic = dlq_topic
        self.logger = logger

    def outcomes(self, batch: Sequence[Inbound], process: ProcessBatch) -> list[Outbound]:
        """Run the decision logic; every input yields its outputs or one dead letter."""
        outputs: list[Outbound] = []
        for inbound, result in zip(batch, self._run(batch, process), strict=True):
            if isinstance(result, Rejected):
                DEAD_LETTERS.labels(self.name).inc()
                log_event(
                    self.logger,
                    "dead_lettered",
                    logging.WARNING,
                    stage=self.name,
                    reason=result.reason[:300],
                    topic=inbound.topic,
                    partition=inbound.partition,
                    offset=inbound.offset,
                )
                letter = dead_letter(self.name, inbound, result.reason)
                outputs.append(Outbound(self.dlq_topic, _dlq_key(inbound), letter))
            else:
                outputs.extend(result)
        return outputs

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

    async def publish(self, outputs: Sequence[Outbound]) -> None:
        """Publish and wait for every acknowledgement; raises if any send fails."""
        sends: list[Awaitable[Any]] = [
            self.broker.publish(
                out.record.to_json_bytes(),
                topic=out.topic,
                key=out.key.encode("utf-8"),
                headers={"content-type": "application/json"},
            )
            for out in outputs
        ]
        await asyncio.gather(*sends)
        for out in outputs:
            RECORDS_OUT.labels(self.name, out.topic).inc()

    async def handle(self, batch: Sequence[Inbound], process: ProcessBatch) -> None:
        RECORDS_IN.labels(self.name).inc(len(batch))
        await self.publish(self.outcomes(batch, process))


def _dlq_key(inbound: Inbound) -> str:
    if inbound.key:
        return inbound.key.decode("utf-8", "backslashreplace")
    return f"{inbound.topic}-{inbound.partition}-{inbound.offset}"


def record_lag(stage: str, consumer: Any, records: Sequence["ConsumerRecord[Any, Any]"]) -> None:
    """Export how far behind the stage is on each partition it just read from."""
    next_offsets: dict[tuple[str, int], int] = {}
    for record in records:
        next_offsets[(record.topic, record.partition)] = record.offset + 1
    for (topic, partition), next_offset in next_offsets.items():
        highwater = consumer.highwater(TopicPartition(topic, partition)) if hasattr(consumer, "highwater") else None
        if highwater is not None:
            CONSUMER_LAG.labels(stage, topic, str(partition)).set(max(0, highwater - next_offset))


def _raw_bytes(message: Any) -> Any:
    # Hand the handler the undecoded message: decoding is the stage's job, so
    # malformed JSON becomes a dead letter rather than a framework error.
    return message.body


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
) -> None:
    """Wire ``process`` to ``topic`` (or several, read by one consumer) with
    commit-after-publish semantics.

    ``extra``, when given, runs after the outputs are published and before the
    commit (the SLA monitor uses it to persist its clocks); ``listener`` hears of
    partitions assigned and revoked (the SLA monitor restores and drops clocks).
    ``co_partitioned`` topics share keys and partition counts: range assignment gives
    each member the same partition numbers of every topic (the default round robin
    would split a partition number across members).
    """

    async def handler(message: KafkaMessage) -> None:
        raw = message.raw_message
        records = raw if isinstance(raw, tuple) else (raw,)
        inbound = [Inbound.from_consumer_record(r) for r in records]
        await stage.handle(inbound, process)
        if extra is not None:
            await extra(inbound)
        record_lag(stage.name, message.consumer, records)

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
    if co_partitioned:
        options["partition_assignment_strategy"] = (RangePartitionAssignor,)
    topics = (topic,) if isinstance(topic, str) else tuple(topic)
    if batch:
        broker.subscriber(*topics, batch=True, max_records=max_records, **options)(handler)
    else:
        broker.subscriber(*topics, **options)(handler)
