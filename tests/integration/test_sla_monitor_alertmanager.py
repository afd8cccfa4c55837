"""Breaches reach a real Alertmanager (Debian's package) and resolve when answered."""

import json
import uuid
from datetime import UTC, datetime

import pytest

from tests.conftest import ServiceFactory
from tests.harness import KafkaHarness, wait_for_alerts
from tests.sla_records import event, routed

pytestmark = pytest.mark.kafka


async def test_breach_arrives_with_routing_labels_and_resolves_on_reply(
    kafka: KafkaHarness, services: ServiceFactory, alertmanager: str
) -> None:
    await services.start(
        "sla-monitor",
        {
            "TRIAGE_SLA_MONITOR_ALERTMANAGER_URL": alertmanager,
            "TRIAGE_SLA_MONITOR_TRANSACTIONAL_ID": f"sla-am-{uuid.uuid4().hex[:8]}",
            "TRIAGE_SLA_MONITOR_TICK_SECONDS": "0.1",
        },
    )
    now = datetime.now(UTC)
    record = routed("am-1", 0, target=1, base=now)
    await kafka.produce(kafka.topics.routed, json.dumps(record), key="am-1")
    alerts = await wait_for_alerts(alertmanager, lambda a: any(x["labels"].get("kind") == "breach" for x in a))
    breach = next(a for a in alerts if a["labels"]["kind"] == "breach")
    assert {k: breach["labels"][k] for k in ("lane", "priority", "owner", "severity")} == {
        "lane": "support", "priority": "P2", "owner": "support-lead", "severity": "critical",
    }  # fmt: skip
    await wait_for_alerts(alertmanager, lambda a: any(x["labels"].get("kind") == "escalation" for x in a))
    reply = event("am-1", "agent_replied", (datetime.now(UTC) - now).total_seconds(), base=now)
    await kafka.produce(kafka.topics.conversation_events, json.dumps(reply), key="am-1")
    assert await wait_for_alerts(alertmanager, lambda a: not a) == []
