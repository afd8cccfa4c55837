"""Two SLA monitor replicas in one consumer group: partitions move between them (a
replica joins, a replica is killed) and every clock still alerts exactly once."""

import asyncio
import collections
import json
import signal
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from tests.conftest import ServiceFactory
from tests.harness import KafkaHarness, ServiceProcess, metric_value
from tests.sla_records import routed

pytestmark = pytest.mark.kafka

CONVERSATIONS = [f"replica-{n}" for n in range(12)]
TARGET = 12  # seconds: warning at 9.6, breach at 12, escalation at 24


def replica_env() -> dict[str, str]:
    return {
        "TRIAGE_SLA_MONITOR_TRANSACTIONAL_ID": f"sla-replica-{uuid.uuid4().hex[:8]}",
        "TRIAGE_SLA_MONITOR_TICK_SECONDS": "0.1",
        "TRIAGE_SLA_MONITOR_GAUGES_SECONDS": "0.2",
        "TRIAGE_SLA_MONITOR_TRANSACTION_TIMEOUT_SECONDS": "5",
    }


async def open_clocks(replica: ServiceProcess) -> float:
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(f"{replica.url}/metrics")).text
    return sum(metric_value(text, "triage_sla_open_conversations", {"lane": lane}) for lane in ("support", "risk"))


async def until(condition: Callable[[float], bool], replica: ServiceProcess, timeout: float = 60.0) -> float:
    """Poll the replica's open-clock gauge until the condition holds; the last value."""
    async with asyncio.timeout(timeout):
        while True:
            clocks = await open_clocks(replica)
            if condition(clocks):
                return clocks
            await asyncio.sleep(0.2)  # the gauge is recomputed every 0.2 s


async def test_partitions_moving_between_replicas_lose_no_clock_and_repeat_no_alert(
    kafka: KafkaHarness, services: ServiceFactory
) -> None:
    first = await services.start("sla-monitor", replica_env())
    reader = await kafka.consumer(kafka.topics.sla_alerts, read_committed=True)
    now = datetime.now(UTC)
    for cid in CONVERSATIONS:
        await kafka.produce(kafka.topics.routed, json.dumps(routed(cid, 0, target=TARGET, base=now)), key=cid)
    await until(lambda clocks: clocks == len(CONVERSATIONS), first)

    # A second replica joins: it restores the clocks of the partitions it is given.
    second = await services.start("sla-monitor", replica_env())
    taken = await until(lambda clocks: 0 < clocks < len(CONVERSATIONS), second)
    await until(lambda clocks: clocks == len(CONVERSATIONS) - taken, first)

    # The first is killed mid-clock: the second takes its partitions over from the state topic.
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    await until(lambda clocks: clocks == len(CONVERSATIONS), second, timeout=90)

    records = await kafka.consume(kafka.topics.sla_alerts, 3 * len(CONVERSATIONS), timeout=120, consumer=reader)
    records += await kafka.drain(reader, quiet_ms=3000)
    kinds = collections.defaultdict(list)
    for alert in (json.loads(r.value) for r in records):
        kinds[alert["conversation_id"]].append(alert["kind"])
    assert {cid: sorted(k) for cid, k in kinds.items()} == {
        cid: ["breach", "escalation", "warning"] for cid in CONVERSATIONS
    }
