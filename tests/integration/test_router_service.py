"""The router as a separate process on the real broker: classified in, routed out."""

import json
from pathlib import Path

import pytest

from tests.conftest import ServiceFactory
from tests.harness import KafkaHarness, json_lines, metric_value

pytestmark = pytest.mark.kafka


def classified(
    message_id: str, conversation: str, issue_type: str, lane: str, priority: str, text: str, **extra: object
) -> dict[str, object]:
    record: dict[str, object] = {
        "record_type": "classified",
        "message_id": message_id,
        "conversation_id": conversation,
        "platform": "instagram",
        "channel": "public_comment",
        "direction": "inbound",
        "author": {"id": "a1", "followers": 12},
        "text": text,
        "created_at": "2026-11-22T12:00:00Z",
        "received_at": "2026-11-22T12:00:00Z",
        "classification": {
            "issue_type": issue_type,
            "lane": lane,
            "priority": priority,
            "confidence": 0.9,
            "needs_review": False,
            "sentiment": {"label": "negative", "score": 0.8},
            "scores": {issue_type: 0.9},
            "model_version": "m1",
        },
    }
    record.update(extra)
    return record


async def test_classified_messages_are_routed_with_owner_tier_mode_deadline(
    kafka: KafkaHarness, services: ServiceFactory
) -> None:
    topics = kafka.topics
    router = await services.start("router")
    inputs = [
        classified("ig:1", "c-pay", "payment_issue", "support", "P2", "charged twice", pii=["card_number"]),
        classified("ig:2", "c-legal", "legal_regulatory", "risk", "P1", "je vais saisir la CNIL"),
        classified("ig:3", "c-spam", "spam", "community", "P3", "follow for follow"),
    ]
    for record in inputs:
        await kafka.produce(topics.classified, json.dumps(record), key=str(record["conversation_id"]))
    await kafka.produce(topics.classified, b"{broken", key="c-bad")

    routed = {r["conversation_id"]: r for r in json_lines(await kafka.consume(topics.routed, 3))}
    pay = routed["c-pay"]["routing"]
    assert (pay["owner"], pay["tier"], pay["reply_mode"]) == ("support-lead", 1, "dm")
    assert pay["first_response_target_seconds"] == 3600
    assert pay["first_response_due_at"] == "2026-11-22T13:00:00Z"
    assert pay["reasons"] and pay["policy_version"]
    legal = routed["c-legal"]["routing"]
    assert (legal["owner"], legal["tier"], legal["escalate_to"]) == ("legal", 2, "legal")
    assert any("risk-regulatory" in reason for reason in legal["reasons"])
    assert routed["c-spam"]["routing"]["first_response_due_at"] is None

    letters = json_lines(await kafka.consume(topics.dlq, 1))
    assert letters[0]["stage"] == "router" and letters[0]["original"] == "{broken"
    metrics = router.metrics_text()
    assert metric_value(metrics, "triage_router_routed_total", {"lane": "risk", "tier": "2", "reply_mode": "dm"}) == 1


async def test_a_broken_policy_stops_the_service_at_start(
    kafka: KafkaHarness, services: ServiceFactory, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: x\nlanes: {}\n", encoding="utf-8")
    # The harness reports a process that exits before it is ready with its exit status and
    # log; one that merely stays unready would say "not ready within" instead.
    with pytest.raises(AssertionError, match=r"^triage-router exited with 1: ") as exited:
        await services.start("router", env={"TRIAGE_ROUTER_POLICY_FILE": str(bad)}, ready_timeout=20)
    assert f"{bad}: invalid routing policy" in str(exited.value)
    assert "sla: Field required" in services.started[-1].log_tail(60)
