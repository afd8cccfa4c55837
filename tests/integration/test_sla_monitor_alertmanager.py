"""Breaches reach a real Alertmanager (Debian's package) and resolve when answered."""

import asyncio
import contextlib
import json
import subprocess
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ServiceFactory
from tests.harness import KafkaHarness, free_port
from tests.sla_records import event, routed

pytestmark = pytest.mark.kafka

CONFIG = """
route: {receiver: 'null', group_wait: 1s}
receivers: [{name: 'null'}]
"""


@pytest.fixture
async def alertmanager(tmp_path: Path) -> AsyncIterator[str]:
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG)
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        "/usr/bin/prometheus-alertmanager", f"--config.file={config}", f"--storage.path={tmp_path / 'am'}",
        f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(150):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{url}/-/ready")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("alertmanager did not become ready")
        yield url
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)


async def active_alerts(url: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{url}/api/v2/alerts", params={"active": "true", "silenced": "false"})
        alerts: list[dict[str, Any]] = response.json()
        return [a for a in alerts if a["status"]["state"] == "active"]


async def wait_for(url: str, predicate: Any, timeout: float = 30.0) -> list[dict[str, Any]]:
    async with asyncio.timeout(timeout):
        while True:
            alerts = await active_alerts(url)
            if predicate(alerts):
                return alerts
            await asyncio.sleep(0.2)


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
    alerts = await wait_for(alertmanager, lambda a: any(x["labels"].get("kind") == "breach" for x in a))
    breach = next(a for a in alerts if a["labels"]["kind"] == "breach")
    assert {k: breach["labels"][k] for k in ("lane", "priority", "owner", "severity")} == {
        "lane": "support", "priority": "P2", "owner": "support-lead", "severity": "critical",
    }  # fmt: skip
    await wait_for(alertmanager, lambda a: any(x["labels"].get("kind") == "escalation" for x in a))
    reply = event("am-1", "agent_replied", (datetime.now(UTC) - now).total_seconds(), base=now)
    await kafka.produce(kafka.topics.conversation_events, json.dumps(reply), key="am-1")
    assert await wait_for(alertmanager, lambda a: not a) == []
