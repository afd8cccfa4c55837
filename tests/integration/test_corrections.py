"""A person's correction on a real broker: the router, restarted since it routed the
message, routes it again to the new owner, and the SLA monitor holds the open
conversation to the new, shorter target; and the weekly export of corrections reads
them, with their messages, from the topics."""

import asyncio
import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import ServiceFactory
from tests.factories import classified
from tests.harness import VENV_BIN, KafkaHarness, json_lines
from triage_router.policy import DEMO_POLICY
from triage_schemas.records import ConversationEvent, RoutedMessage, SlaAlert

pytestmark = pytest.mark.kafka


async def test_a_correction_reroutes_and_retargets_an_open_conversation(
    kafka: KafkaHarness, services: ServiceFactory
) -> None:
    policy = {"TRIAGE_ROUTER_POLICY_FILE": str(DEMO_POLICY)}
    router = await services.start("router", policy)
    await services.start(
        "sla-monitor",
        {
            "TRIAGE_SLA_MONITOR_POLICY_FILE": str(DEMO_POLICY),
            "TRIAGE_SLA_MONITOR_TRANSACTIONAL_ID": f"sla-fix-{uuid.uuid4().hex[:8]}",
            "TRIAGE_SLA_MONITOR_TICK_SECONDS": "0.1",
        },
    )
    routed_reader = await kafka.consumer(kafka.topics.routed)
    now = datetime.now(UTC)
    message = classified("feedback", conversation_id="fix-1", message_id="instagram:fix-1", received_at=now,
                         text="I want to end it all, and your app keeps crashing")  # fmt: skip
    await kafka.produce(kafka.topics.classified, message, key="fix-1")
    [first] = [RoutedMessage.model_validate(r) for r in json_lines(await kafka.consume(
        kafka.topics.routed, 1, timeout=60, consumer=routed_reader))]  # fmt: skip
    assert (first.classification.issue_type, first.routing.first_response_target_seconds) == ("feedback", 120)

    router.stop()  # the correction comes after a restart: the router reads back what it routed
    await services.start("router", policy)
    fix = ConversationEvent.model_validate(
        {
            "event_id": "fix-1-correction", "conversation_id": "fix-1", "type": "reclassified",
            "at": datetime.now(UTC).isoformat(), "actor": "care-lead",
            "correction": {"message_id": "instagram:fix-1", "issue_type": "safety_threat", "model_version": "test"},
        }
    )  # fmt: skip
    await kafka.produce(kafka.topics.conversation_events, fix, key="fix-1")
    [again] = [RoutedMessage.model_validate(r) for r in json_lines(await kafka.consume(
        kafka.topics.routed, 1, timeout=60, consumer=routed_reader))]  # fmt: skip
    c, r = again.classification, again.routing
    assert (c.issue_type, c.lane, c.priority, r.owner, r.corrected_by) == (
        "safety_threat", "risk", "P1", "trust-safety-lead", "fix-1-correction",
    )  # fmt: skip
    assert r.first_response_target_seconds == 15
    assert r.reasons[0].startswith("reclassified by care-lead: feedback/community/P3 -> safety_threat/risk/P1")

    # the open clock now breaches at 15 s from the customer's message, not 120 s
    alerts_reader = await kafka.consumer(kafka.topics.sla_alerts, read_committed=True)
    seen: list[SlaAlert] = []
    while not any(a.kind == "breach" for a in seen):
        seen += [SlaAlert.model_validate(a) for a in json_lines(await kafka.consume(
            kafka.topics.sla_alerts, 1, timeout=60, consumer=alerts_reader))]  # fmt: skip
    breach = next(a for a in seen if a.kind == "breach")
    assert (breach.conversation_id, breach.issue_type, breach.owner, breach.target_seconds) == (
        "fix-1", "safety_threat", "trust-safety-lead", 15,
    )  # fmt: skip
    assert (breach.at - now).total_seconds() < 60


async def test_corrections_export_reads_corrections_and_their_messages_from_the_topics(
    kafka: KafkaHarness, services: ServiceFactory, tmp_path: Path
) -> None:
    # What a care lead runs each week: the corrections on the events topic, joined with the
    # messages on the classified topic, without joining any consumer group.
    now = datetime.now(UTC)
    corrected = classified("feedback", conversation_id="exp-1", message_id="instagram:exp-1", received_at=now,
                           text="charged me twice for the same jacket, write to jo.doe@example.com")  # fmt: skip
    untouched = classified("feedback", conversation_id="exp-2", message_id="instagram:exp-2", received_at=now,
                           text="love the new colours")  # fmt: skip
    for message in (corrected, untouched):
        await kafka.produce(kafka.topics.classified, message, key=message.conversation_id)
    events = [
        {"event_id": "exp-2-reply", "conversation_id": "exp-2", "type": "agent_replied", "at": now.isoformat(),
         "actor": "agent-7"},
        {"event_id": "exp-1-correction", "conversation_id": "exp-1", "type": "reclassified", "at": now.isoformat(),
         "actor": "care-lead", "correction": {"message_id": "instagram:exp-1", "issue_type": "payment_issue",
                                              "sentiment": "negative", "model_version": "clf-test"}},
    ]  # fmt: skip
    for event in events:
        record = ConversationEvent.model_validate(event)
        await kafka.produce(kafka.topics.conversation_events, record, key=record.conversation_id)

    out = tmp_path / "corrections" / "week.jsonl"
    export = await asyncio.create_subprocess_exec(
        str(VENV_BIN / "triage-classifier"), "corrections", "export", "--from-topic", "--out", str(out),
        "--corrections-dir", str(tmp_path / "corrections"),
        env={**os.environ, **services.env("classifier")},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(export.communicate(), timeout=120)
    assert export.returncode == 0, stderr.decode()
    assert stdout.decode().startswith("1 corrections read (1 other conversation events), 1 joined with their message")

    [line] = [json.loads(text) for text in out.read_text().splitlines()]
    assert (line["issue_type"], line["sentiment"], line["source"], line["agent"]) == (
        "payment_issue", "negative", "correction", "care-lead",
    )  # fmt: skip
    assert "jo.doe@example.com" not in line["text"] and line["text"].startswith("charged me twice")
