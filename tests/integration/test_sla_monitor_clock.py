"""The SLA monitor as a separate process on the real broker, with targets of a few seconds."""

import asyncio
import json
import signal
import subprocess
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from tests.conftest import ServiceFactory
from tests.harness import KafkaHarness
from tests.sla_records import event, routed

pytestmark = pytest.mark.kafka


def monitor_env() -> dict[str, str]:
    # a transactional id of its own, so tests sharing the broker never fence each other
    return {
        "TRIAGE_SLA_MONITOR_TRANSACTIONAL_ID": f"sla-test-{uuid.uuid4().hex[:8]}",
        "TRIAGE_SLA_MONITOR_TICK_SECONDS": "0.1",
    }


async def alerts_for(kafka: KafkaHarness, count: int, timeout: float = 30.0) -> list[dict[str, object]]:
    records = await kafka.consume(kafka.topics.sla_alerts, count, timeout=timeout)
    return [json.loads(r.value) for r in records]


async def send(kafka: KafkaHarness, topic: str, record: dict[str, object]) -> None:
    await kafka.produce(topic, json.dumps(record), key=str(record["conversation_id"]))


async def test_no_reply_gives_warning_breach_escalation_once_each_and_a_reply_gives_none(
    kafka: KafkaHarness, services: ServiceFactory
) -> None:
    await services.start("sla-monitor", monitor_env())
    now = datetime.now(UTC)
    await send(kafka, kafka.topics.routed, routed("quiet", 0, target=2, base=now))
    await send(kafka, kafka.topics.routed, routed("answered", 0, target=2, base=now))
    await send(kafka, kafka.topics.conversation_events, event("answered", "agent_replied", 0.5, base=now))
    await send(kafka, kafka.topics.routed, routed("paused", 0, target=2, base=now))
    await send(kafka, kafka.topics.conversation_events, event("paused", "paused", 0.1, base=now))
    alerts = await alerts_for(kafka, 3)
    reader = await kafka.consumer(kafka.topics.sla_alerts)
    everything = [json.loads(r.value) for r in await kafka.drain(reader, quiet_ms=3000)]
    assert [a["kind"] for a in alerts] == ["warning", "breach", "escalation"]
    assert {a["conversation_id"] for a in everything} == {"quiet"}
    assert len(everything) == 3
    assert len({a["alert_id"] for a in everything}) == 3
    # resuming starts the paused conversation's remaining time again
    await send(
        kafka,
        kafka.topics.conversation_events,
        event("paused", "resumed", (datetime.now(UTC) - now).total_seconds(), base=now),
    )
    more = await kafka.consume(kafka.topics.sla_alerts, 3, consumer=reader, timeout=20)
    assert [json.loads(r.value)["kind"] for r in more] == ["warning", "breach", "escalation"]
    assert {json.loads(r.value)["conversation_id"] for r in more} == {"paused"}


async def committed_reader(kafka: KafkaHarness) -> AIOKafkaConsumer:
    # alerts are written in transactions: a reader that must not see an aborted one (a
    # monitor killed between send and commit) reads committed records only
    return await kafka.consumer(kafka.topics.sla_alerts, read_committed=True)


async def test_killed_mid_clock_and_restarted_still_breaches_once(
    kafka: KafkaHarness, services: ServiceFactory
) -> None:
    env = monitor_env()
    first = await services.start("sla-monitor", env)
    reader = await committed_reader(kafka)
    try:
        now = datetime.now(UTC)
        await send(kafka, kafka.topics.routed, routed("c-kill", 0, target=4, base=now))
        warning = await kafka.consume(kafka.topics.sla_alerts, 1, consumer=reader)
        assert json.loads(warning[0].value)["kind"] == "warning"
        first.stop(signal.SIGKILL)
        await services.start("sla-monitor", env)
        seen = warning + await kafka.consume(kafka.topics.sla_alerts, 2, consumer=reader, timeout=30)
        seen += await kafka.drain(reader, quiet_ms=2000)
        assert [json.loads(r.value)["kind"] for r in seen] == ["warning", "breach", "escalation"]
    finally:
        await reader.stop()


async def test_metrics_pass_promtool_and_wait_times_are_served(kafka: KafkaHarness, services: ServiceFactory) -> None:
    monitor = await services.start("sla-monitor", {**monitor_env(), "TRIAGE_SLA_MONITOR_GAUGES_SECONDS": "0.2"})
    now = datetime.now(UTC)
    await send(kafka, kafka.topics.routed, routed("m1", 0, target=600, base=now))
    await send(kafka, kafka.topics.conversation_events, event("m1", "agent_replied", 0.2, base=now))
    await send(kafka, kafka.topics.routed, routed("m2", 0, target=600, base=now))
    async with httpx.AsyncClient() as client:
        for _ in range(100):
            waits = (await client.get(f"{monitor.url}/wait-times")).json()
            if "support" in waits["lanes"]:
                break
            await asyncio.sleep(0.1)
        metrics = (await client.get(f"{monitor.url}/metrics")).text
    assert waits["lanes"]["support"]["median_first_response_seconds"] == pytest.approx(0.2, abs=0.05)
    assert 'triage_sla_first_response_seconds_count{lane="support",platform="instagram",priority="P2"} 1.0' in metrics
    assert "conversation_id" not in metrics
    assert '"m1"' not in metrics and '"m2"' not in metrics  # no ids as label values
    promtool = await asyncio.create_subprocess_exec(
        "promtool", "check", "metrics", stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    report, _ = await promtool.communicate(metrics.encode())
    assert promtool.returncode == 0, report.decode()
