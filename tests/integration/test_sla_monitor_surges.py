"""A burst on one platform, on a real broker: one surge on social.sla-alerts and in a real
Alertmanager, one resolution, and a monitor killed mid-burst and restarted twice that
neither raises it again nor forgets the baseline it learned."""

import asyncio
import json
import signal
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import ServiceFactory
from tests.harness import KafkaHarness, ServiceProcess, json_lines, metric_value, wait_for_alerts
from tests.sla_records import routed

pytestmark = pytest.mark.kafka

WINDOW = 60
POLICY = f"""
sla:
  surges: {{window: {WINDOW}, warmup_windows: 3, min_count: 10, floor: 1, factor: 3}}
"""
LANES = [
    ("support", "payment_issue"),
    ("sales", "sales_lead"),
    ("community", "feedback"),
    ("support", "order_shipping"),
]
USUAL = {"instagram": 8, "tiktok": 8, "x": 4}  # messages per window


class Feed:
    """Routed messages in the stream's time, over conversations on every routed partition."""

    def __init__(self, kafka: KafkaHarness, start: datetime) -> None:
        self.kafka, self.start, self.sent = kafka, start, 0

    async def window(self, number: int, counts: dict[str, int], first: int = 0) -> None:
        for platform, count in counts.items():
            for i in range(first, first + count):
                lane, issue = LANES[self.sent % len(LANES)]
                seconds = number * WINDOW + 1 + i * 0.5
                conversation = f"surge-{self.sent % 12}"
                record = routed(conversation, seconds, target=None, lane=lane, issue_type=issue, base=self.start,
                                message_id=f"m-{self.sent}")  # fmt: skip
                record["platform"] = platform
                self.sent += 1
                await self.kafka.produce(self.kafka.topics.routed, json.dumps(record), key=conversation)


async def counted(monitor: ServiceProcess, platform: str, count: int, timeout: float = 60) -> None:
    """Until the monitor's metrics show ``count`` messages in the platform's open window."""
    labels = {"dimension": "platform", "value": platform}
    async with asyncio.timeout(timeout):
        while True:  # another process: its metrics are what there is to watch
            text = await asyncio.to_thread(monitor.metrics_text)
            if metric_value(text, "triage_surge_window_count", labels) >= count:
                return
            await asyncio.sleep(0.2)


async def test_a_burst_raises_one_surge_that_survives_restarts_and_resolves(
    kafka: KafkaHarness, services: ServiceFactory, alertmanager: str, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    env = {
        "TRIAGE_SLA_MONITOR_POLICY_FILE": str(policy),
        "TRIAGE_SLA_MONITOR_ALERTMANAGER_URL": alertmanager,
        "TRIAGE_SLA_MONITOR_TRANSACTIONAL_ID": f"sla-surge-{uuid.uuid4().hex[:8]}",
        "TRIAGE_SLA_MONITOR_GATHER_MS": "0",
    }
    monitor = await services.start("sla-monitor", env)
    now = datetime.now(UTC)
    feed = Feed(kafka, now.replace(second=0, microsecond=0) - timedelta(hours=2))
    for number in range(10):  # ten usual windows: the baseline
        await feed.window(number, USUAL)
    await feed.window(10, {"x": 10})  # the burst begins: 10 on x, not yet the 14 a surge needs
    await counted(monitor, "x", 10)

    monitor.stop(signal.SIGKILL)  # killed mid-burst, before the surge
    monitor = await services.start("sla-monitor", env)
    await feed.window(10, {"x": 10}, first=10)  # 20 on x in the window: 5 times its usual 4
    am = await wait_for_alerts(alertmanager, lambda a: any(x["labels"]["alertname"] == "SocialInboxSurge" for x in a))
    assert {k: am[0]["labels"][k] for k in ("dimension", "value", "severity", "kind")} == {
        "dimension": "platform", "value": "x", "severity": "critical", "kind": "surge",
    }  # fmt: skip

    monitor.stop()  # stopped while surging
    monitor = await services.start("sla-monitor", env)
    await feed.window(10, {"x": 6}, first=20)  # still bursting: must not be raised again
    for number in (11, 12):  # back to usual: the surge ends when window 11 closes
        await feed.window(number, USUAL)

    reader = await kafka.consumer(kafka.topics.sla_alerts, read_committed=True)
    alerts = json_lines(await kafka.consume(kafka.topics.sla_alerts, 2, timeout=60, consumer=reader))
    alerts += json_lines(await kafka.drain(reader))
    assert [(a["record_type"], a["kind"], a["dimension"], a["value"]) for a in alerts] == [
        ("surge_alert", "surge", "platform", "x"),
        ("surge_alert", "surge_resolved", "platform", "x"),
    ]
    surge = alerts[0]
    assert surge["count"] == 14 and surge["expected"] == pytest.approx(4, abs=0.5)
    assert surge["window_start"] == (feed.start + timedelta(seconds=10 * WINDOW)).isoformat().replace("+00:00", "Z")
    assert await wait_for_alerts(alertmanager, lambda a: not a) == []
