"""The record contract: valid records round-trip, invalid ones are rejected naming the field."""

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from triage_runtime.topics import TopicSettings
from triage_schemas import (
    ClassifiedMessage,
    IssueType,
    Lane,
    Platform,
    Priority,
    RawEnvelope,
    SocialMessage,
    parse_record,
)
from triage_schemas.export import rendered

JSON_DIR = Path(__file__).resolve().parent.parent / "json"


def message_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "record_type": "message",
        "message_id": "instagram:17890001",
        "conversation_id": "instagram:post:1789",
        "platform": "instagram",
        "channel": "public_comment",
        "direction": "inbound",
        "account_id": "brand-ig",
        "author": {"id": "u1", "handle": "maya", "followers": 1200},
        "text": "where is my order #4471?",
        "created_at": "2026-11-22T10:00:00+01:00",
        "received_at": "2026-11-22T09:00:05Z",
    }
    data.update(overrides)
    return data


def error_locations(error: ValidationError) -> list[str]:
    return [".".join(str(part) for part in e["loc"]) for e in error.errors()]


def test_message_round_trips_and_normalises_timestamps_to_utc() -> None:
    message = SocialMessage.model_validate(message_data())
    assert message.created_at == datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    assert message.created_at.utcoffset() == timedelta(0)
    again = parse_record(message.to_json_bytes())
    assert again == message
    assert json.loads(message.to_json_bytes())["created_at"] == "2026-11-22T09:00:00Z"
    assert message.schema_version == 1


def test_wrong_enum_names_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        SocialMessage.model_validate(message_data(platform="myspace"))
    assert error_locations(caught.value) == ["platform"]
    assert "instagram" in str(caught.value)


def test_naive_timestamp_is_rejected_naming_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        SocialMessage.model_validate(message_data(created_at="2026-11-22T10:00:00"))
    assert error_locations(caught.value) == ["created_at"]
    assert "timezone" in str(caught.value)


def test_missing_nested_field_is_named_with_its_path() -> None:
    data = message_data()
    del data["author"]["id"]
    del data["text"]
    with pytest.raises(ValidationError) as caught:
        SocialMessage.model_validate(data)
    assert sorted(error_locations(caught.value)) == ["author.id", "text"]


def test_parse_record_picks_the_model_by_record_type() -> None:
    classified = message_data(
        record_type="classified",
        classification={
            "issue_type": "order_shipping",
            "lane": "support",
            "priority": "P2",
            "confidence": 0.91,
            "needs_review": False,
            "sentiment": {"label": "negative", "score": 0.8},
            "scores": {"order_shipping": 0.91, "feedback": 0.09},
            "reasons": [],
            "model_version": "m-1",
        },
    )
    record = parse_record(json.dumps(classified))
    assert isinstance(record, ClassifiedMessage)
    assert record.classification.lane is Lane.SUPPORT
    assert record.classification.priority is Priority.P2
    assert record.classification.scores[IssueType.ORDER_SHIPPING] == pytest.approx(0.91)


def test_unknown_record_type_is_rejected() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_record(json.dumps(message_data(record_type="gossip")))
    assert "record_type" in str(caught.value)


def test_raw_envelope_keeps_payload_exactly() -> None:
    payload = {"object": "page", "entry": [{"id": "1", "messaging": [{"message": {"text": "hi 👋"}}]}]}
    envelope = RawEnvelope(
        platform=Platform.MESSENGER,
        received_at=datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-5))),
        payload=payload,
    )
    again = parse_record(envelope.to_json_bytes())
    assert isinstance(again, RawEnvelope)
    assert again.payload == payload
    assert again.received_at.tzinfo == UTC


def test_committed_json_schemas_are_up_to_date() -> None:
    expected = rendered()
    committed = {path.name: path.read_text(encoding="utf-8") for path in JSON_DIR.glob("*.schema.json")}
    stale = sorted(name for name in expected if committed.get(name) != expected[name])
    extra = sorted(set(committed) - set(expected))
    assert not stale and not extra, f"run `make schemas`: stale {stale}, no longer exported {extra}"


def test_topic_names_and_partitions_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_TOPIC_ROUTED", "acme.routed")
    monkeypatch.setenv("TRIAGE_TOPIC_PARTITIONS", "12")
    topics = TopicSettings()
    assert topics.routed == "acme.routed"
    assert topics.partitions == 12
    assert topics.raw == "social.raw"
    assert topics.all_topics()["routed"] == "acme.routed"
