"""Ingest's delivery step without Kafka: nothing is lost when a publish fails or one
record misbehaves, and an id counts as seen only once its records are acknowledged."""

import asyncio
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.doubles import RecordingBroker, Sent, fail_first
from triage_ingest import app
from triage_ingest.adapters import ADAPTERS
from triage_ingest.app import ingest_stage
from triage_ingest.config import IngestSettings
from triage_ingest.seen_log import read_marks
from triage_runtime.delivery import Inbound
from triage_schemas.enums import Platform

FIXTURES = Path(__file__).parent / "fixtures"
SETTINGS = IngestSettings()
TOPICS = SETTINGS.topics


def telegram(message_id: int, **sender: Any) -> bytes:
    payload = json.loads((FIXTURES / "telegram_private_message.json").read_text())
    payload["message"]["message_id"] = message_id
    payload["message"]["from"].update(sender)
    envelope = {"record_type": "raw_envelope", "platform": "telegram", "received_at": "2026-11-22T12:00:00Z",
                "payload": payload}  # fmt: skip
    return json.dumps(envelope).encode()


def batch(*values: bytes) -> list[Inbound]:
    return [Inbound(value, topic=TOPICS.raw, partition=0, offset=n) for n, value in enumerate(values)]


def seen_ids(broker: RecordingBroker) -> list[str]:
    """The ids the seen-mark records written so far carry, in order."""
    return [
        message_id for s in broker.on(TOPICS.ingest_seen) for message_id, _ in read_marks(s.key, s.value, 0.0) or []
    ]


def ids(sent: list[Sent]) -> list[str]:
    return [s.json()["message_id"] for s in sent]


def stage(broker: RecordingBroker) -> Any:
    return ingest_stage(SETTINGS, broker, logging.getLogger("test"))  # type: ignore[arg-type]


async def test_a_batch_whose_publish_failed_is_published_whole_when_redelivered() -> None:
    broker = RecordingBroker(fail_when=fail_first(1))
    delivery, step = stage(broker)
    records = batch(*(telegram(n) for n in range(1, 6)))

    with pytest.raises(ConnectionError):
        await delivery.handle(records, step.process)
    before = len(broker.on(TOPICS.messages))  # four of five got through: at-least-once repeats them
    await delivery.handle(records, step.process)  # the consumer rewound: the same batch again
    await step.marks.flush()  # marks gather for a moment before they are written

    # the redelivered batch was not taken for duplicates of itself: all five again
    expected = [f"telegram:5550001234:{n}" for n in range(1, 6)]
    assert sorted(ids(broker.on(TOPICS.messages)[before:])) == expected
    assert sorted(seen_ids(broker)) == expected
    assert len(broker.on(TOPICS.ingest_seen)) == 1  # a batch's ids travel in one record


async def test_ids_count_as_seen_once_their_outputs_are_acknowledged_and_a_lost_mark_costs_no_message() -> None:
    first_seen_mark_fails = fail_first(1)
    broker = RecordingBroker(fail_when=lambda sent: sent.topic == TOPICS.ingest_seen and first_seen_mark_fails(sent))
    delivery, step = stage(broker)

    await delivery.handle(batch(telegram(1), telegram(2)), step.process)
    await step.marks.flush()  # the marks of 1 and 2 are lost: logged, no failure
    await delivery.handle(batch(telegram(1)), step.process)  # a platform retry, recognised in this process
    await delivery.handle(batch(telegram(3)), step.process)
    await step.marks.flush()

    assert sorted(ids(broker.on(TOPICS.messages))) == [f"telegram:5550001234:{n}" for n in (1, 2, 3)]
    assert len(step.recent) == 3
    assert seen_ids(broker) == ["telegram:5550001234:3"]  # a restart may let a retry of 1 or 2 through


async def test_nothing_counts_as_seen_when_the_outputs_were_not_acknowledged() -> None:
    broker = RecordingBroker(fail_when=lambda sent: sent.topic == TOPICS.messages)
    delivery, step = stage(broker)

    with pytest.raises(ConnectionError):
        await delivery.handle(batch(telegram(1)), step.process)
    await step.marks.flush()

    assert len(step.recent) == 0
    assert broker.on(TOPICS.ingest_seen) == []


async def test_a_record_that_breaks_the_adapter_is_a_dead_letter_and_its_neighbours_flow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = ADAPTERS[Platform.TELEGRAM]

    def breaks_on_42(payload: Any, context: Any) -> Any:
        if payload["message"]["message_id"] == 42:
            raise RecursionError("simulated bug")
        return real(payload, context)

    monkeypatch.setitem(ADAPTERS, Platform.TELEGRAM, breaks_on_42)
    broker = RecordingBroker()
    delivery, step = stage(broker)

    await delivery.handle(batch(telegram(1), telegram(42), telegram(3)), step.process)

    assert sorted(ids(broker.on(TOPICS.messages))) == ["telegram:5550001234:1", "telegram:5550001234:3"]
    [letter] = [s.json() for s in broker.on(TOPICS.dlq)]
    assert "internal error (RecursionError)" in letter["error"]
    assert letter["source_offset"] == 1


@pytest.mark.parametrize(
    ("poison", "reason"),
    [
        (telegram(9, username="\ud800"), "not writable as UTF-8: an unpaired surrogate escape"),
        (telegram(9).replace(b"2026-11-22T12:00:00Z", b"0001-01-01T00:00:00+05:00"), "timestamp is out of range"),
        (telegram(9).replace(b"2026-11-22T12:00:00Z", b"9999-12-31T23:59:59-05:00"), "timestamp is out of range"),
        (telegram(9).replace(b"2026-11-22T12:00:00Z", b"1999-12-31T23:59:59Z"), "is outside 2000-2100"),
        (telegram(9).replace(b"1763813000", b"4102444800"), "timestamp 2100-01-01T00:00:00+00:00 is outside"),
        (b"[" * 100_000 + b"]" * 100_000, "record is nested more than 64 levels deep"),
        (telegram(9).replace(b'"ana_souza"', b"NaN", 1), "not usable JSON: NaN"),
    ],
    ids=["surrogate in user name", "year 1", "year 9999", "before 2000", "created in 2100", "deep", "NaN"],
)
async def test_hostile_envelopes_are_dead_lettered_with_a_reason_and_neighbours_flow(
    poison: bytes, reason: str
) -> None:
    broker = RecordingBroker()
    delivery, step = stage(broker)

    await delivery.handle(batch(telegram(1), poison, telegram(3)), step.process)

    assert sorted(ids(broker.on(TOPICS.messages))) == ["telegram:5550001234:1", "telegram:5550001234:3"]
    [letter] = [s.json() for s in broker.on(TOPICS.dlq)]
    assert reason in letter["error"], letter["error"]


async def test_a_message_dated_far_ahead_of_now_is_refused() -> None:
    broker = RecordingBroker()
    delivery, step = stage(broker)
    tomorrow_and_more = int(datetime.now(UTC).timestamp()) + 2 * 86_400

    await delivery.handle(batch(telegram(1).replace(b"1763813000", str(tomorrow_and_more).encode())), step.process)

    [letter] = [s.json() for s in broker.on(TOPICS.dlq)]
    assert "s in the future (TRIAGE_INGEST_MAX_FUTURE_SECONDS)" in letter["error"]


def test_the_platform_of_a_deeply_nested_record_is_unknown_not_a_crash() -> None:
    assert app.sniff_platform(b"[" * 100_000) == "unknown"


async def test_seen_marks_of_several_batches_are_written_together_and_at_shutdown() -> None:
    broker = RecordingBroker()
    delivery, step = stage(broker)
    await delivery.handle(batch(telegram(1)), step.process)
    await delivery.handle(batch(telegram(2)), step.process)
    assert broker.on(TOPICS.ingest_seen) == []  # gathering: nothing written per batch

    await step.marks.close()  # the service stops: what waits is written before the producer stops
    assert seen_ids(broker) == [
        "telegram:5550001234:1",
        "telegram:5550001234:2",
    ]


async def test_gathered_seen_marks_are_written_when_their_delay_is_up() -> None:
    broker = RecordingBroker()
    delivery, step = stage(broker)
    step.marks.delay = 0
    await delivery.handle(batch(telegram(7)), step.process)
    after_the_timer = asyncio.Event()
    asyncio.get_running_loop().call_later(0, after_the_timer.set)  # runs after the marks' own timer
    await after_the_timer.wait()
    await asyncio.gather(*step.marks._flushing)
    assert seen_ids(broker) == ["telegram:5550001234:7"]
