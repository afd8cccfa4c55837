"""Ingest's handler, built by ``triage_ingest.app.build``: raw platform envelopes in;
normalised messages, brand replies as conversation events, dedupe marks and dead letters
out. Each case runs in memory and on the real broker (see conftest.py)."""

import json
from pathlib import Path
from typing import Any

import pytest

import triage_ingest.app
from services.ingest.tests.expected_records import EXPECTED
from tests.handlers.conftest import Start
from tests.handlers.harness import Outputs, ServiceSpec
from triage_ingest.app import build
from triage_ingest.config import IngestSettings

FIXTURES = Path(__file__).resolve().parents[2] / "services/ingest/tests/fixtures"
RECEIVED_AT = "2026-11-22T12:00:00Z"


def _no_kafka_read_back(monkeypatch: pytest.MonkeyPatch, _: Outputs) -> None:
    # Kafka only: before consuming, ingest reads its dedupe marks back from the ingest-seen topic.
    async def restore_seen(*args: Any, **kwargs: Any) -> int:
        return 0

    monkeypatch.setattr(triage_ingest.app, "restore_seen", restore_seen)


INGEST = ServiceSpec(
    "ingest",
    settings=IngestSettings,
    build=build,
    outputs=lambda topics: [topics.messages, topics.conversation_events, topics.dlq, topics.ingest_seen],
    memory_patches=_no_kafka_read_back,
)


def envelope(fixture: str, payload: Any = None) -> dict[str, Any]:
    return {
        "record_type": "raw_envelope",
        "schema_version": 1,
        "platform": fixture.split("_")[0],
        "received_at": RECEIVED_AT,
        "source": "test-connector",
        "payload": payload if payload is not None else json.loads((FIXTURES / f"{fixture}.json").read_text()),
    }


def expected(fixture: str, direction: str) -> list[dict[str, Any]]:
    return [r for r in EXPECTED[fixture] if isinstance(r, dict) and r["direction"] == direction]


def whatsapp_with(message_index: int) -> dict[str, Any]:
    """The WhatsApp fixture's webhook carrying only one of its two messages (one conversation)."""
    payload = json.loads((FIXTURES / "whatsapp_text.json").read_text())
    value = payload["entry"][0]["changes"][0]["value"]
    value["messages"] = [value["messages"][message_index]]
    return envelope("whatsapp_text", payload)


class TestIngestHandler:
    async def test_a_comment_thread_gives_the_customer_message_and_the_brand_reply_as_an_agent_reply(
        self, start: Start
    ) -> None:
        [customer] = expected("facebook_feed_comment", "inbound")
        [brand] = expected("facebook_feed_comment", "outbound")
        conversation = customer["conversation_id"]
        async with start(INGEST) as ingest:
            topics = ingest.topics
            await ingest.send(topics.raw, envelope("facebook_feed_comment"), key="facebook:thread")

            [message] = await ingest.outputs.wait_for(topics.messages)
            [event] = await ingest.outputs.wait_for(topics.conversation_events)
            [marks] = await ingest.outputs.wait_for(topics.ingest_seen)  # the ids of one batch, one record
        assert message.key == conversation  # one conversation, one partition, downstream too
        body = message.json()
        assert body["record_type"] == "message"
        assert {k: body[k] for k in customer} == customer
        assert body["received_at"] == RECEIVED_AT
        assert body["pii"] == ["order_number"]  # "order 558812"; the text itself is kept for the agent

        assert event.key == conversation
        reply = event.json()
        assert (reply["type"], reply["conversation_id"], reply["message_id"]) == (
            "agent_replied", conversation, brand["message_id"]
        )  # fmt: skip
        assert reply["at"] == brand["created_at"]
        # both ids are marked seen once their records are acknowledged, so a restart still drops retries
        assert sorted(marks.json()["ids"]) == sorted([customer["message_id"], brand["message_id"]])
        assert ingest.outputs.on(topics.dlq) == []

    async def test_a_platform_retry_is_published_once(self, start: Start) -> None:
        first, second = expected("whatsapp_text", "inbound")
        async with start(INGEST) as ingest:
            topics = ingest.topics
            await ingest.send(topics.raw, whatsapp_with(0), key="whatsapp:lucia")
            await ingest.send(topics.raw, whatsapp_with(0), key="whatsapp:lucia")  # the platform retries
            await ingest.send(topics.raw, whatsapp_with(1), key="whatsapp:lucia")

            # Same conversation, same partition: a copy of the first would arrive before the second.
            messages = await ingest.outputs.wait_for(
                topics.messages, until=lambda found: any(m.json()["message_id"] == second["message_id"] for m in found)
            )
        assert [m.json()["message_id"] for m in messages] == [first["message_id"], second["message_id"]]
        assert ingest.outputs.on(topics.dlq) == []

    @pytest.mark.parametrize(
        ("raw", "reason"),
        [
            pytest.param(b'{"record_type": "raw_envelope", "platform": "x", ', "record is not JSON", id="malformed"),
            pytest.param(
                json.dumps({**envelope("x_dm"), "platform": "myspace"}).encode(),
                "unknown platform 'myspace'",
                id="unknown-platform",
            ),
        ],
    )
    async def test_a_poison_record_is_dead_lettered_with_its_reason_and_the_next_one_flows(
        self, start: Start, raw: bytes, reason: str
    ) -> None:
        [customer] = expected("instagram_dm", "inbound")
        async with start(INGEST) as ingest:
            topics = ingest.topics
            await ingest.send(topics.raw, raw, key="poison", headers={"x-connector": "test"})
            await ingest.send(topics.raw, envelope("instagram_dm"), key="poison")

            [letter] = await ingest.outputs.wait_for(topics.dlq)
            [message] = await ingest.outputs.wait_for(topics.messages)
        dead = letter.json()
        assert dead["stage"] == "ingest"
        assert dead["error"].startswith(reason), dead["error"]
        assert (dead["original"], dead["original_encoding"]) == (raw.decode(), "utf-8")
        assert dead["headers"]["x-connector"] == "test"
        assert dead["source_topic"] == topics.raw
        assert letter.key == "poison"
        assert message.json()["message_id"] == customer["message_id"]
