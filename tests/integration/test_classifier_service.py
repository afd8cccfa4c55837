"""The classifier as a separate process on the real broker: messages in, classified out,
bad records to the dead-letter topic. Uses the model `make model` builds."""

import json
from pathlib import Path

import pytest

from tests.conftest import ServiceFactory
from tests.harness import KafkaHarness, json_lines, metric_value

pytestmark = pytest.mark.kafka


def message(message_id: str, text: str, **extra: object) -> dict[str, object]:
    record: dict[str, object] = {
        "record_type": "message",
        "message_id": message_id,
        "conversation_id": f"conv-{message_id}",
        "platform": "instagram",
        "channel": "direct_message",
        "direction": "inbound",
        "author": {"id": "a1", "followers": 42},
        "text": text,
        "created_at": "2026-11-22T12:00:00Z",
        "received_at": "2026-11-22T12:00:01Z",
    }
    record.update(extra)
    return record


async def test_messages_are_classified_with_every_field_and_bad_ones_dead_lettered(
    kafka: KafkaHarness, services: ServiceFactory
) -> None:
    topics = kafka.topics
    classifier = await services.start("classifier")
    inputs = [
        message("ig:1", "someone hacked my account and changed my email, it wasn't me!!"),
        message("ig:2", "mon colis n'est toujours pas arrivé, commande 558812", platform="facebook"),
        message("ig:3", "x" * 300_000),
    ]
    for record in inputs:
        await kafka.produce(topics.messages, json.dumps(record), key=str(record["conversation_id"]))
    await kafka.produce(topics.messages, b"{broken", key="c-bad")
    await kafka.produce(topics.messages, json.dumps({**inputs[0], "platform": "myspace"}), key="c-bad")

    out = {r["message_id"]: r for r in json_lines(await kafka.consume(topics.classified, 3))}
    assert set(out) == {"ig:1", "ig:2", "ig:3"}
    for classified in out.values():
        assert classified["record_type"] == "classified"
        classification = classified["classification"]
        assert set(classification) >= {
            "issue_type",
            "lane",
            "priority",
            "confidence",
            "needs_review",
            "sentiment",
            "scores",
            "reasons",
            "model_version",
        }
        assert len(classification["scores"]) == 12
        assert classification["sentiment"]["label"] in {"negative", "neutral", "positive"}
    hacked = out["ig:1"]["classification"]
    assert (hacked["issue_type"], hacked["lane"], hacked["priority"]) == ("account_compromise", "support", "P1")
    assert out["ig:2"]["author"] == {"id": "a1", "handle": None, "followers": 42}
    assert len(out["ig:3"]["text"]) == 300_000

    letters = json_lines(await kafka.consume(topics.dlq, 2))
    assert [letter["stage"] for letter in letters] == ["classifier", "classifier"]
    assert letters[0]["original"] == "{broken" and letters[0]["error"].startswith("not JSON")
    assert letters[1]["error"].startswith("not a valid message: platform")

    metrics = classifier.metrics_text()
    assert metric_value(metrics, "triage_stage_dead_letters_total", {"stage": "classifier"}) == 2
    # The hacked-account message at least (the filler text may land there too).
    assert (
        metric_value(
            metrics, "triage_classifier_classified_total", {"issue_type": "account_compromise", "priority": "P1"}
        )
        >= 1
    )
    assert metric_value(metrics, "triage_classifier_model_info", {"model_version": hacked["model_version"]}) == 1


async def test_the_service_refuses_to_start_without_a_model(
    kafka: KafkaHarness, services: ServiceFactory, tmp_path: Path
) -> None:
    with pytest.raises(AssertionError, match="make model"):
        await services.start("classifier", env={"TRIAGE_CLASSIFIER_MODEL_DIR": str(tmp_path)}, ready_timeout=30)


async def test_one_unwritable_message_does_not_stall_its_partition(
    kafka: KafkaHarness, services: ServiceFactory
) -> None:
    """A lone surrogate in the author's handle (valid JSON, unwritable as UTF-8) is one dead
    letter; every message around it on the same partition is classified."""
    topics = kafka.topics
    for n in range(30):
        await kafka.produce(topics.messages, json.dumps(message(f"ig:{n}", "where is my parcel?")), key="one")
        if n == 10:
            poison = json.dumps(message("ig:poison", "hello", author={"id": "a1", "handle": "\ud800"}))
            await kafka.produce(topics.messages, poison, key="one")
    await services.start("classifier")

    out = json_lines(await kafka.consume(topics.classified, 30))
    assert sorted(r["message_id"] for r in out) == sorted(f"ig:{n}" for n in range(30))
    [letter] = json_lines(await kafka.consume(topics.dlq, 1))
    assert letter["error"].startswith("not writable as UTF-8")
    assert letter["source_offset"] == 11
