"""Every stage's Kafka-side step answers every hostile batch: outputs or one dead letter each.

Each stage is built as its service wires it, without Kafka, and fed generated batches
of 1-30 Kafka records (values from the schema models and the documented platform
fixtures, mutated, damaged, huge or junk; random keys and headers; distinct offsets).
Property, for every batch, of ``Stage.outcomes`` (the serialised outputs the step would
hand to the producer):

* it never raises;
* every input yields its outputs or exactly one dead letter (matched by its
  ``source_offset``), never both; an input with neither is accounted for: ingest skipped
  it or it repeats a message id already published in the batch, or the SLA monitor
  took it as a clock change (the monitor publishes nothing per input);
* every value is UTF-8 JSON valid under its record's JSON Schema (``schemas/json``) and
  at most ``MAX_OUTPUT_BYTES``, on the topic its record type belongs to; every key is
  UTF-8, and key and value together fit the producer's 1 MiB ``max_request_size``;
* every dead letter names the stage, has an error, carries the input's headers and
  source topic, partition and offset, and its ``original`` gives back the input's bytes
  (text or base64, a documented prefix when truncated).

Ingest also runs ``Stage.handle`` on a ``RecordingBroker``: a failed publish remembers
no id, the retry publishes exactly what ``outcomes`` computed and then the seen ids, and
a redelivery publishes none of those ids again. The SLA monitor's clocks are then
fired at the last second before 2100 (as the live timer would: ``at`` is now) and at
infinity (every alert left, each dated when it fell due). Each alert goes through
``alert_record``: every live one must validate and fit a Kafka record (``fire_due`` would
otherwise abort and retry the whole tick forever); one due after 2100 that cannot be
written is counted as an alert error and reported.
"""

import asyncio
import base64
import json
import logging
import math
import time
import traceback
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.doubles import RecordingBroker, SimulatedSendError
from tests.fuzz.conftest import NOTES, PROFILE
from tests.fuzz.strategies import (
    classified_dict,
    classified_records,
    events,
    kafka_headers,
    kafka_keys,
    kafka_values,
    late_routed_records,
    message_dict,
    messages,
    other_records,
    raw_envelopes,
    routed_dict,
    routed_records,
    validators,
)
from triage_classifier.app import _counted as classifier_counted
from triage_classifier.classify import Classifier
from triage_classifier.config import ClassifierSettings
from triage_ingest.app import IngestStep, ingest_stage
from triage_ingest.config import IngestSettings
from triage_ingest.seen_log import read_marks
from triage_router.app import RouterStep
from triage_router.config import RouterSettings
from triage_router.policy import DEFAULT_POLICY, load_policy
from triage_runtime.delivery import (
    MAX_DEAD_LETTER_ORIGINAL,
    MAX_OUTPUT_BYTES,
    Encoded,
    Inbound,
    ProcessBatch,
    Stage,
    one_at_a_time,
)
from triage_runtime.jsonlines import validation_summary
from triage_schemas.policy import ClockPolicy
from triage_schemas.records import LATEST, ConversationEvent, RoutedMessage, parse_record
from triage_sla_monitor.clock import Alert
from triage_sla_monitor.config import SlaMonitorSettings
from triage_sla_monitor.inputs import alert_record
from triage_sla_monitor.monitor import Monitor

FUZZ = settings(settings.get_profile(PROFILE))
MAX_BATCH = 30
LIVE_NOW = LATEST.timestamp() - 1
"""The last second at which the live timer can still write an alert (``at`` is now)."""
MAX_NOTES = 5
KAFKA_MAX_REQUEST = 1_048_576
"""The producer's ``max_request_size``: key, value and headers of one record together
(``aiokafka`` raises ``MessageSizeTooLargeError`` at send beyond it)."""
RECORD_OVERHEAD = 200
"""Headers (``content-type``) and the record's framing, generously."""


def fits(key: bytes, value: bytes) -> bool:
    return len(value) <= MAX_OUTPUT_BYTES and len(key) + len(value) + RECORD_OVERHEAD <= KAFKA_MAX_REQUEST


# ---------------------------------------------------------------- plumbing


class _Failures(logging.Handler):
    """Keeps the traceback of every ``processing_failed`` (a step that raised)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.tracebacks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.tracebacks.append("".join(traceback.format_exception(record.exc_info[1]))[-2_000:])


FAILURES = _Failures()
LOGGER = logging.getLogger("tests.fuzz.stages")
LOGGER.propagate = False  # thousands of dead_lettered warnings would fill pytest's log capture
LOGGER.setLevel(logging.ERROR)
LOGGER.addHandler(FAILURES)


def _no_constants(name: str) -> Any:
    raise AssertionError(f"output carries {name}, which is not JSON")


def note(stage: str, text: str) -> None:
    kept = NOTES.setdefault(stage, [])
    if len(kept) < MAX_NOTES and text not in kept:
        kept.append(text)


def shown(value: bytes, limit: int = 300) -> str:
    return repr(value[:limit]) + (f"... ({len(value):,} bytes)" if len(value) > limit else "")


def a_batch(values: st.SearchStrategy[tuple[str, bytes]]) -> st.SearchStrategy[list[Inbound]]:
    """1-30 records (topic, value) with random keys and headers, distinct offsets."""

    @st.composite
    def build(draw: st.DrawFn) -> list[Inbound]:
        items = draw(st.lists(values, min_size=1, max_size=MAX_BATCH))
        partition = draw(st.integers(0, 11))
        first = draw(st.sampled_from([0, 41, 2**62]))
        return [
            Inbound(
                value=value,
                key=draw(kafka_keys),
                headers=draw(kafka_headers),
                topic=topic,
                partition=partition,
                offset=first + index,
            )
            for index, (topic, value) in enumerate(items)
        ]

    return build()


def on_topic(topic: str, records: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[str, bytes]]:
    return kafka_values(records).map(lambda value: (topic, value))


# ---------------------------------------------------------------- the property


@dataclass
class Answered:
    """What ``outcomes`` gave the batch: each output and dead letter, in order; the dead
    letters also by the position of their input."""

    sequence: list[tuple[Encoded, dict[str, Any]]] = field(default_factory=list)
    letters: dict[int, dict[str, Any]] = field(default_factory=dict)
    internal_errors: int = 0

    def outputs(self) -> list[tuple[Encoded, dict[str, Any]]]:
        return [(out, record) for out, record in self.sequence if record["record_type"] != "dead_letter"]


def check_dead_letter(stage: str, letter: dict[str, Any], inbound: Inbound) -> None:
    assert letter["stage"] == stage
    assert isinstance(letter["error"], str) and letter["error"].strip(), "a dead letter without a reason"
    assert letter["source_topic"] == inbound.topic
    assert letter["source_partition"] == inbound.partition
    assert letter["headers"] == inbound.headers
    if letter["original_encoding"] == "utf-8":
        original = letter["original"].encode("utf-8")
    else:
        assert letter["original_encoding"] == "base64"
        original = base64.b64decode(letter["original"], validate=True)
    if original != inbound.value:
        assert inbound.value.startswith(original), "the dead letter's original is not the input's bytes"
        assert len(original) in (MAX_DEAD_LETTER_ORIGINAL, MAX_DEAD_LETTER_ORIGINAL // 2), len(original)
        assert f"original truncated to its first {len(original):,} of {len(inbound.value):,} bytes" in letter["error"]


def check_outcomes(
    stage: Stage, batch: Sequence[Inbound], encoded: Sequence[Encoded], topics: dict[str, str]
) -> Answered:
    """The property for one batch; ``topics`` maps each output topic to its record type."""
    first = batch[0].offset
    assert first is not None
    answered = Answered()
    for out in encoded:
        out.key.decode("utf-8")  # raises when the key is not UTF-8
        assert fits(out.key, out.value), (
            f"{stage.name}: an output of {len(out.value):,} bytes with a {len(out.key):,}-byte key "
            f"cannot be sent (producer limit {KAFKA_MAX_REQUEST:,} bytes)"
        )
        record = json.loads(out.value.decode("utf-8"), parse_constant=_no_constants)
        assert isinstance(record, dict)
        kind = record["record_type"]
        assert kind == getattr(out.outbound.record, "record_type", None)
        errors = sorted(validators()[kind].iter_errors(record), key=str)
        assert not errors, f"{stage.name}: a {kind} output breaks its schema: {errors[0].message}"
        if out.topic == stage.dlq_topic:
            assert kind == "dead_letter", f"a {kind} on the dead-letter topic"
            index = record["source_offset"] - first
            assert 0 <= index < len(batch) and batch[index].offset == record["source_offset"]
            assert index not in answered.letters, f"input {index} has two dead letters"
            check_dead_letter(stage.name, record, batch[index])
            answered.letters[index] = record
            answered.internal_errors += record["error"].startswith("internal error")
        else:
            assert topics.get(out.topic) == kind, f"a {kind} record on {out.topic}"
            assert out.key == out.outbound.key.encode("utf-8")
        answered.sequence.append((out, record))
    assert sorted(answered.letters) == [
        record["source_offset"] - first for _, record in answered.sequence if record["record_type"] == "dead_letter"
    ], "dead letters out of input order"
    return answered


def tally(stage: str, counts: dict[str, Counter[str]], batch: Sequence[Inbound], answered: Answered) -> Counter[str]:
    counter = counts.setdefault(f"stage {stage}", Counter())
    counter["batches"] += 1
    counter["records"] += len(batch)
    counter["outputs"] += len(answered.outputs())
    counter["dead_letters"] += len(answered.letters)
    counter["internal_errors"] += answered.internal_errors
    return counter


def report_internal_errors(stage: str, batch: Sequence[Inbound], answered: Answered) -> None:
    for index, letter in answered.letters.items():
        if letter["error"].startswith("internal error"):
            trace = FAILURES.tracebacks[-1] if FAILURES.tracebacks else "(no traceback logged)"
            note(stage, f"internal error on {shown(batch[index].value)}:\n{trace}")
    FAILURES.tracebacks.clear()


def one_each(batch: Sequence[Inbound], answered: Answered, id_field: str) -> None:
    """Classifier and router: each input gives exactly one output or one dead letter, in
    input order, and the output is the input's message (matched by ``id_field``)."""
    sequence = iter(answered.sequence)
    for index, inbound in enumerate(batch):
        answer = next(sequence, None)
        assert answer is not None, f"input {index} of {len(batch)} has no output and no dead letter"
        _, record = answer
        if record["record_type"] == "dead_letter":
            assert record["source_offset"] == inbound.offset, f"input {index} has no output and no dead letter"
            continue
        source = json.loads(inbound.value)  # it was accepted, so it parses
        assert record[id_field] == source[id_field], f"input {index} answered with another input's record"
    assert next(sequence, None) is None, "more answers than inputs"


# ---------------------------------------------------------------- ingest

INGEST = IngestSettings()
INGEST_TOPICS = {INGEST.topics.messages: "message", INGEST.topics.conversation_events: "conversation_event"}


def published_id(record: dict[str, Any]) -> str:
    message_id = record.get("message_id")
    assert isinstance(message_id, str)
    return message_id


def ingest_accounting(batch: Sequence[Inbound], answered: Answered) -> int:
    """Ingest's answer, input by input, is what the input gives alone through a step that
    remembers the message ids the batch's earlier inputs published: its outputs less those
    ids (a silent input was skipped, not a message, or repeats them), or its dead letter.
    Returns how many inputs were silent."""
    alone_stage, alone_step = ingest_stage(INGEST, cast(Any, RecordingBroker()), LOGGER)
    expected: list[tuple[str, bytes]] = []
    silent = 0
    for index, inbound in enumerate(batch):
        own = alone_stage.outcomes([inbound], alone_step.process)
        dead = [out for out in own if out.topic == alone_stage.dlq_topic]
        if index in answered.letters:
            assert dead, f"input {index} is dead-lettered in its batch but not alone: {shown(inbound.value)}"
            expected.append(("dead letter", b""))
            continue
        assert not dead, (
            f"input {index} is dead-lettered alone ({json.loads(dead[0].value)['error'][:200]}) "
            f"but silently dropped in its batch: {shown(inbound.value)}"
        )
        silent += not own
        expected.extend((out.topic, out.value) for out in own)
        alone_step.dedupe.published([published_id(json.loads(out.value)) for out in own], time.time())
    actual = [
        ("dead letter", b"") if out.topic == INGEST.topics.dlq else (out.topic, out.value)
        for out, _ in answered.sequence
    ]
    assert actual == expected, "an input's outputs were dropped or repeated within its batch"
    return silent


async def deliver(stage: Stage, step: IngestStep, broker: RecordingBroker, batch: Sequence[Inbound]) -> None:
    """Broker down, then up, then the same batch redelivered (a crash before the commit)."""
    expected = stage.outcomes(batch, step.process)
    seen_topic = step.topics.ingest_seen

    broker.fail_when = lambda _: True
    try:
        await stage.handle(batch, step.process)
    except SimulatedSendError:
        assert expected, "publishing nothing failed"
    else:
        assert not expected, "a failed publish went unnoticed"
    assert len(step.recent) == 0, "ids remembered although nothing was published"

    broker.fail_when, broker.acknowledged = (lambda _: False), []
    await stage.handle(batch, step.process)
    await step.marks.flush()
    sent = [s for s in broker.acknowledged if s.topic != seen_topic]
    assert [(s.topic, s.key) for s in sent] == [(e.topic, e.key) for e in expected]
    for s, e in zip(sent, expected, strict=True):
        if s.topic != stage.dlq_topic:
            assert s.value == e.value, "the retry after a failed publish produced something else"
    ids = [published_id(s.json()) for s in sent if s.topic in INGEST_TOPICS]
    marked = [message_id for s in broker.on(seen_topic) for message_id, _ in read_marks(s.key, s.value, 0.0) or []]
    assert marked == ids, "seen ids differ from the published ids"
    now = time.time()
    assert all(step.recent.seen(message_id, now) for message_id in ids)

    broker.acknowledged = []
    await stage.handle(batch, step.process)
    again = {published_id(s.json()) for s in broker.acknowledged if s.topic in INGEST_TOPICS}
    assert not again & set(ids), f"redelivery published {sorted(again & set(ids))[:3]} again"


@FUZZ
@given(batch=a_batch(on_topic(INGEST.topics.raw, st.one_of(raw_envelopes(), other_records()))))
def test_ingest_stage_answers_every_record(batch: list[Inbound], fuzz_counts: Any) -> None:
    broker = RecordingBroker()
    stage, step = ingest_stage(INGEST, cast(Any, broker), LOGGER)
    encoded = stage.outcomes(batch, step.process)
    answered = check_outcomes(stage, batch, encoded, INGEST_TOPICS)
    report_internal_errors("ingest", batch, answered)

    silent = ingest_accounting(batch, answered)
    tally("ingest", fuzz_counts, batch, answered)["silent"] += silent

    fresh_stage, fresh_step = ingest_stage(INGEST, cast(Any, broker), LOGGER)
    asyncio.run(deliver(fresh_stage, fresh_step, broker, batch))


# ---------------------------------------------------------------- classifier

CLASSIFIER = ClassifierSettings()


def classifier_stage(classifier: Classifier) -> tuple[Stage, ProcessBatch]:
    """As ``triage_classifier.app.build`` wires it, with the fuzzers' tiny model."""
    stage = Stage("classifier", cast(Any, RecordingBroker()), CLASSIFIER.topics.dlq, LOGGER)
    topic = CLASSIFIER.topics.classified

    def process(records: Sequence[Inbound]) -> Any:
        return classifier_counted(classifier, topic, records)

    return stage, process


@FUZZ
@given(
    batch=a_batch(
        on_topic(CLASSIFIER.topics.messages, st.one_of(messages(), messages(), classified_records(), other_records()))
    )
)
def test_classifier_stage_answers_every_record(
    batch: list[Inbound], fuzz_classifier: Classifier, fuzz_counts: Any
) -> None:
    stage, process = classifier_stage(fuzz_classifier)
    encoded = stage.outcomes(batch, process)
    answered = check_outcomes(stage, batch, encoded, {CLASSIFIER.topics.classified: "classified"})
    report_internal_errors("classifier", batch, answered)
    one_each(batch, answered, "message_id")
    tally("classifier", fuzz_counts, batch, answered)


# ---------------------------------------------------------------- router

ROUTER = RouterSettings()
POLICY = load_policy(DEFAULT_POLICY)


def router_stage() -> tuple[Stage, ProcessBatch]:
    """As ``triage_router.app.build`` wires it, with the shipped policy."""
    stage = Stage("router", cast(Any, RecordingBroker()), ROUTER.topics.dlq, LOGGER)
    return stage, RouterStep(POLICY, ROUTER.topics, None).process


@FUZZ
@given(batch=a_batch(on_topic(ROUTER.topics.classified, st.one_of(classified_records(), other_records()))))
def test_router_stage_answers_every_record(batch: list[Inbound], fuzz_counts: Any) -> None:
    stage, process = router_stage()
    encoded = stage.outcomes(batch, process)
    answered = check_outcomes(stage, batch, encoded, {ROUTER.topics.routed: "routed"})
    report_internal_errors("router", batch, answered)
    one_each(batch, answered, "message_id")
    tally("router", fuzz_counts, batch, answered)


# ---------------------------------------------------------------- sla-monitor

SLA = SlaMonitorSettings()
SLA_VALUES = st.one_of(
    on_topic(SLA.topics.routed, st.one_of(routed_records(), late_routed_records())),
    on_topic(SLA.topics.conversation_events, events()),
    # records on the other input topic, and of other types
    on_topic(SLA.topics.routed, st.one_of(events(), other_records())),
    on_topic(SLA.topics.conversation_events, st.one_of(routed_records(), other_records())),
)


def sla_stage() -> tuple[Stage, Monitor]:
    """As ``triage_sla_monitor.app.build`` wires it (process: ``one_at_a_time(monitor.on_input)``),
    with the built-in clock policy."""
    stage = Stage("sla-monitor", cast(Any, RecordingBroker()), SLA.topics.dlq, LOGGER)
    return stage, Monitor(SLA, ClockPolicy(), LOGGER)


def accepted_by_monitor(inbound: Inbound) -> bool:
    try:
        record = parse_record(inbound.value)
    except (ValueError, ValidationError):
        return False
    expected = ConversationEvent if inbound.topic == SLA.topics.conversation_events else RoutedMessage
    return isinstance(record, expected)


def alert_problem(alert: Alert) -> str | None:
    """What ``AlertTimer.fire_due`` writes for one alert (the ``sla_alert`` record keyed by
    the conversation id): None when it can be sent and validates, else why not."""
    try:
        value = alert_record(alert).to_json_bytes()
        key = alert.conversation_id.encode()  # fire_due encodes the key strictly
    except ValidationError as error:
        return f"{alert.kind.value} due {_when(alert.due_at)}: not a valid sla_alert: {validation_summary(error)}"
    except (ValueError, OverflowError, OSError, UnicodeError) as error:
        return f"{alert.kind.value} due {_when(alert.due_at)}: {type(error).__name__}: {str(error)[:160]}"
    if not fits(key, value):
        return (
            f"{alert.kind.value} due {_when(alert.due_at)}: {len(value):,}-byte sla_alert with a "
            f"{len(key):,}-byte key, over the producer's {KAFKA_MAX_REQUEST:,}-byte limit"
        )
    data = json.loads(value, parse_constant=_no_constants)
    errors = sorted(validators()["sla_alert"].iter_errors(data), key=str)
    assert not errors, f"an sla_alert breaks its schema: {errors[0].message}"
    return None


def _when(epoch: float) -> str:
    try:
        return datetime.fromtimestamp(epoch, UTC).isoformat()
    except (ValueError, OverflowError, OSError):
        return repr(epoch)


@FUZZ
@given(batch=a_batch(SLA_VALUES))
def test_sla_monitor_stage_answers_every_record(batch: list[Inbound], fuzz_counts: Any) -> None:
    stage, monitor = sla_stage()
    encoded = stage.outcomes(batch, one_at_a_time(monitor.on_input))
    answered = check_outcomes(stage, batch, encoded, {})
    report_internal_errors("sla-monitor", batch, answered)
    assert not answered.outputs(), "the monitor publishes nothing per input"
    silent = [index for index in range(len(batch)) if index not in answered.letters]
    for index in silent:
        assert accepted_by_monitor(batch[index]), f"input {index} neither taken nor dead-lettered"
    counter = tally("sla-monitor", fuzz_counts, batch, answered)
    counter["silent"] += len(silent)

    # as the live timer fires them (``at`` is now): every one must be sendable, or
    # ``fire_due`` aborts the tick's transaction and retries it, with every other alert
    # due with it, at every tick
    live = monitor.store.fire(LIVE_NOW)
    counter["alerts"] += len(live)
    for alert in live:
        problem = alert_problem(alert)
        assert problem is None, f"the live timer cannot send an alert: {problem}"
    # the rest, due after the last second a record may carry: counted and reported
    late = monitor.store.fire(math.inf)
    counter["alerts"] += len(late)
    counter["alerts_after_2100"] += len(late)
    for alert in late:
        problem = alert_problem(alert)
        if problem is not None:
            counter["alert_errors"] += 1
            note("sla-monitor alerts due after 2100", problem)
    assert monitor.store.fire(math.inf) == [], "an alert fired twice"


def test_the_stage_fuzz_covers_every_stage() -> None:
    assert settings.get_profile("fuzz").max_examples >= 10_000
    assert set(validators()) >= {"message", "conversation_event", "classified", "routed", "dead_letter", "sla_alert"}


# ---------------------------------------------------------------- poison records, one by one

STAGES = ["ingest", "classifier", "router", "sla-monitor"]


def single_stage(name: str, classifier: Classifier) -> tuple[Stage, ProcessBatch, str]:
    """A stage as its service wires it, its process, and the topic it reads."""
    if name == "ingest":
        stage, step = ingest_stage(INGEST, cast(Any, RecordingBroker()), LOGGER)
        return stage, step.process, INGEST.topics.raw
    if name == "classifier":
        return (*classifier_stage(classifier), CLASSIFIER.topics.messages)
    if name == "router":
        return (*router_stage(), ROUTER.topics.classified)
    stage, monitor = sla_stage()
    return stage, one_at_a_time(monitor.on_input), SLA.topics.routed


POISON = {
    "control-characters": b"\x01" * 300_000,  # escaped as text the dead letter would pass 1 MB
    "not-utf-8": b"\xff" * 400_000,
    "two-byte-text": "é".encode() * 200_000,
    # a rejection reason that quotes the value: the record type is repeated in the reason
    "huge-record-type": json.dumps({"record_type": "x" * 850_000}).encode(),
    "zero-width-record-type": json.dumps({"record_type": "\u200b" * 170_000}, ensure_ascii=False).encode(),
}


@pytest.mark.parametrize("name", STAGES)
@pytest.mark.parametrize("poison", sorted(POISON))
def test_a_huge_poison_record_is_one_dead_letter(name: str, poison: str, fuzz_classifier: Classifier) -> None:
    """Each record of ``POISON`` alone in a batch: one dead letter, under the record limit."""
    stage, process, topic = single_stage(name, fuzz_classifier)
    batch = [Inbound(POISON[poison], key=None, topic=topic, partition=0, offset=7)]
    [letter] = stage.outcomes(batch, process)
    check_outcomes(stage, batch, [letter], {})


LONG_CONVERSATION_ID = "é" * 400_000
"""800,000 bytes: a message carrying it fits every input limit, but its output's key and
value together do not fit one Kafka record."""


@pytest.mark.parametrize("name", ["classifier", "router"])
def test_an_output_too_big_with_its_key_is_one_dead_letter(name: str, fuzz_classifier: Classifier) -> None:
    record = message_dict() if name == "classifier" else classified_dict()
    value = json.dumps({**record, "conversation_id": LONG_CONVERSATION_ID}, ensure_ascii=False).encode()
    stage, process, topic = single_stage(name, fuzz_classifier)
    batch = [Inbound(value, key=None, topic=topic, partition=0, offset=7)]
    answered = check_outcomes(stage, batch, stage.outcomes(batch, process), {})
    assert list(answered.letters) == [0]


def test_a_conversation_id_too_long_for_a_kafka_key_is_refused_at_the_door() -> None:
    """Alerts are keyed by conversation id: a 400,000-character id must be one dead letter
    on input, never an alert that cannot be sent (which would hold up every later tick)."""
    routed = {**routed_dict(), "conversation_id": "x" * 400_000}
    stage, monitor = sla_stage()
    batch = [Inbound(json.dumps(routed).encode(), topic=SLA.topics.routed, partition=0, offset=7)]
    [letter] = stage.outcomes(batch, one_at_a_time(monitor.on_input))
    assert letter.topic == SLA.topics.dlq
    assert "conversation_id" in json.loads(letter.value)["error"]
    assert monitor.store.fire(LIVE_NOW) == []
