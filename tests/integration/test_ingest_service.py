"""Ingest as a separate process on the real broker: raw envelopes for every platform in;
normalised messages keyed by conversation, brand replies as conversation events, one
copy of a retried delivery, and poison records dead-lettered while good ones flow."""

import json
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.ingest.tests.expected_records import EXPECTED
from tests.conftest import ServiceFactory
from tests.harness import KafkaHarness, json_lines, metric_value

pytestmark = pytest.mark.kafka

FIXTURES = Path(__file__).resolve().parents[2] / "services/ingest/tests/fixtures"


def envelope(name: str) -> dict[str, Any]:
    return {
        "record_type": "raw_envelope",
        "schema_version": 1,
        "platform": name.split("_")[0],
        "received_at": "2026-11-22T12:00:00Z",
        "source": "test-connector",
        "payload": json.loads((FIXTURES / f"{name}.json").read_text()),
    }


POISON = {
    "malformed": b'{"record_type": "raw_envelope", "platform": "x", ',
    "unknown platform": json.dumps({**envelope("x_dm"), "platform": "myspace"}).encode(),
    "missing fields": json.dumps(
        {**envelope("x_dm"), "payload": {"for_user_id": "1", "direct_message_events": [{}]}}
    ).encode(),
    "oversize": json.dumps({**envelope("x_dm"), "source": "x" * 600_000}).encode(),
    "invalid utf-8": b'{"record_type": "raw_envelope", "platform": "x", "payload": "\xff\xfe"}',
}  # fmt: skip


async def test_every_platform_in_messages_and_replies_out_duplicates_once_poison_to_dlq(
    kafka: KafkaHarness, services: ServiceFactory
) -> None:
    topics = kafka.topics
    ingest = await services.start("ingest")
    names = sorted(EXPECTED)
    # Poison first: the good records behind them must still flow.
    for raw in POISON.values():
        await kafka.produce(topics.raw, raw, key="poison", headers={"x-connector": "test"})
    for name in names:
        await kafka.produce(topics.raw, json.dumps(envelope(name)), key=name)
    await kafka.produce(topics.raw, json.dumps(envelope("whatsapp_text")), key="retry")  # a platform retry

    expected = [r for name in names for r in EXPECTED[name] if isinstance(r, dict)]
    inbound = [r for r in expected if r["direction"] == "inbound"]
    outbound = [r for r in expected if r["direction"] == "outbound"]
    messages = await kafka.consume(topics.messages, len(inbound), 60)
    by_id = {m["message_id"]: m for m in json_lines(messages)}
    assert sorted(by_id) == sorted(r["message_id"] for r in inbound)
    for record in messages:
        body = json.loads(record.value)
        assert record.key == body["conversation_id"].encode()  # one conversation, one partition
        want = next(r for r in inbound if r["message_id"] == body["message_id"])
        assert {k: body[k] for k in want} == want

    events = json_lines(await kafka.consume(topics.conversation_events, len(outbound), 60))
    assert sorted((e["conversation_id"], e["message_id"]) for e in events) == sorted(
        (r["conversation_id"], r["message_id"]) for r in outbound
    )
    assert {e["type"] for e in events} == {"agent_replied"}

    dead = json_lines(await kafka.consume(topics.dlq, len(POISON), 60))
    reasons = [d["error"] for d in dead]
    assert any(r.startswith("record is not JSON") for r in reasons)
    assert any(r.startswith("unknown platform 'myspace'") for r in reasons)
    assert any("direct_message_events[0].type is missing" in r for r in reasons)
    assert any("over the 524,288-byte limit" in r for r in reasons)
    assert any(r.startswith("record is not valid UTF-8") for r in reasons)
    assert all(d["stage"] == "ingest" and d["headers"]["x-connector"] == "test" for d in dead)
    oversize = next(d for d in dead if "byte limit" in d["error"])
    assert "original truncated to its first 262,144 of" in oversize["error"]  # a dead letter must fit in Kafka
    assert len(oversize["original"]) == 262_144
    invalid = next(d for d in dead if d["error"].startswith("record is not valid UTF-8"))
    assert invalid["original_encoding"] == "base64"

    # Nothing more: the retried delivery came out once.
    assert len(await kafka.drain(await kafka.consumer(topics.messages))) == len(inbound)
    metrics = ingest.metrics_text()
    assert metric_value(metrics, "triage_ingest_records_total", {"platform": "whatsapp", "outcome": "duplicate"}) == 2
    assert metric_value(metrics, "triage_ingest_records_total", {"platform": "whatsapp", "outcome": "skipped"}) == 2
    assert (
        metric_value(metrics, "triage_ingest_records_total", {"platform": "unknown", "outcome": "dead_lettered"}) == 3
    )
    assert metric_value(metrics, "triage_ingest_records_total", {"platform": "x", "outcome": "dead_lettered"}) == 2
    assert "Ana" not in metrics and "example.com" not in ingest.log_tail(200)  # no personal data in logs or labels


async def test_a_retry_after_a_restart_is_still_a_duplicate(kafka: KafkaHarness, services: ServiceFactory) -> None:
    """The dedupe window is read back from social.ingest-seen when ingest starts again."""
    topics = kafka.topics
    first = await services.start("ingest")
    await kafka.produce(topics.raw, json.dumps(envelope("x_dm")), key="dm")
    [published] = json_lines(await kafka.consume(topics.messages, 1))
    await kafka.consume(topics.ingest_seen, 1)  # the seen-mark is written before the offset is committed
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL  # a crash, not a graceful stop

    second = await services.start("ingest")
    await kafka.produce(topics.raw, json.dumps(envelope("x_dm")), key="dm")  # the platform retries
    await kafka.produce(topics.raw, json.dumps(envelope("telegram_private_message")), key="tg")
    reader = await kafka.consumer(topics.messages)
    after = json_lines(await kafka.consume(topics.messages, 2, consumer=reader))
    assert sorted(m["message_id"] for m in after) == sorted([published["message_id"], "telegram:5550001234:4410"])
    assert len(await kafka.drain(reader)) == 0  # the DM came out once, across the crash
    # the retry, and the first delivery too when the crash came before its offset was committed
    duplicates = metric_value(
        second.metrics_text(), "triage_ingest_records_total", {"platform": "x", "outcome": "duplicate"}
    )
    assert duplicates in (1, 2)


def message_ids(fixture: str) -> list[str]:
    """The ids of the messages ingest makes of ``fixture`` (its expected records)."""
    return [str(record["message_id"]) for record in EXPECTED[fixture] if isinstance(record, dict)]


async def test_the_window_is_read_back_from_marks_of_both_formats(
    kafka: KafkaHarness, services: ServiceFactory
) -> None:
    """An upgrade: marks written one per id by an earlier ingest and marks written many per
    record are both read back, and their retries are duplicates."""
    topics = kafka.topics
    now = datetime.now(UTC).timestamp()
    first_x, second_x = message_ids("x_dm")
    [telegram] = message_ids("telegram_private_message")
    whatsapp = sorted(message_ids("whatsapp_text"))
    await kafka.produce(topics.ingest_seen, f"{now - 60:.3f}", key=first_x)  # the earlier format: one id
    await kafka.produce(topics.ingest_seen, json.dumps({"at": now - 30, "ids": [second_x, telegram]}), key="m-1")
    await kafka.produce(topics.ingest_seen, b'{"at": "garbled"', key="m-2")  # skipped with a warning, no crash

    await services.start("ingest")
    for name, key in (("x_dm", "dm"), ("telegram_private_message", "tg"), ("whatsapp_text", "wa")):
        await kafka.produce(topics.raw, json.dumps(envelope(name)), key=key)
    reader = await kafka.consumer(topics.messages)
    fresh = json_lines(await kafka.consume(topics.messages, 2, consumer=reader))
    assert sorted(message["message_id"] for message in fresh) == whatsapp
    assert await kafka.drain(reader) == []  # the retries of the x and telegram messages were recognised


async def test_hostile_envelopes_cost_no_good_message(kafka: KafkaHarness, services: ServiceFactory) -> None:
    """Poison among good records in one batch: every poison record is one dead letter with a
    reason, every good message comes out once (a surrogate in a user name, year 1, deep nesting)."""
    topics = kafka.topics
    good = json.loads((FIXTURES / "telegram_private_message.json").read_text())
    poison = [
        json.dumps({**envelope("x_dm"), "received_at": "0001-01-01T00:00:00+05:00"}).encode(),
        json.dumps(envelope("telegram_private_message")).replace('"ana_souza"', '"\\ud800"', 1).encode(),
        b'{"payload": ' * 50_000,
        json.dumps({**envelope("x_dm"), "received_at": "9999-12-31T23:59:59-05:00"}).encode(),
    ]
    for n in range(40):
        payload = {**good, "message": {**good["message"], "message_id": n}}
        await kafka.produce(
            topics.raw, json.dumps({**envelope("telegram_private_message"), "payload": payload}), key="k"
        )
        if n % 10 == 5:
            await kafka.produce(topics.raw, poison[n // 10], key="k")
    await services.start("ingest")

    messages = json_lines(await kafka.consume(topics.messages, 40))
    assert sorted(m["message_id"] for m in messages) == sorted(f"telegram:5550001234:{n}" for n in range(40))
    dead = json_lines(await kafka.consume(topics.dlq, 4))
    assert sorted(d["source_offset"] for d in dead) == [6, 17, 28, 39]
    assert all(d["error"] for d in dead)
