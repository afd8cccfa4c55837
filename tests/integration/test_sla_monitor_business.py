"""The clock the way a care team works, on the real broker with the monitor as its own
process: an automated reply stops nothing, a human one does; window_closing,
follow_up_due and resolution alerts arrive once each; a calendar closed now holds its
alerts back; a monitor killed mid-clock fires the restored clock at the same time."""

import json
import signal
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServiceFactory
from tests.harness import KafkaHarness, wait_for_alerts
from tests.sla_records import event, routed

pytestmark = pytest.mark.kafka
WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def policy_file(tmp_path: Path, today: datetime) -> Path:
    soon = {today.strftime("%a").lower(), (today + timedelta(days=1)).strftime("%a").lower()}
    closed_days = [d for d in WEEK if d not in soon]
    policy = {
        "version": "business-test",
        "calendars": {
            # open an hour a day on days that are neither today nor tomorrow: closed for this test
            "closed-now": {"timezone": "UTC", "weekly": {closed_days[0]: ["03:00-04:00"]}},
            "always": {
                "timezone": "UTC",
                "weekly": {d: ["00:00-24:00"] for d in WEEK},
            },
        },
        "sla": {"follow_up_after": 3, "reply_windows": {"margin": 2}},
    }
    path = tmp_path / "policy.yaml"
    path.write_text(json.dumps(policy))  # JSON is YAML
    return path


def dm(cid: str, base: datetime, target: int, **routing: Any) -> dict[str, Any]:
    record = routed(cid, 0, target=target, base=base, channel="direct_message")
    record["platform"] = "messenger"
    record["routing"].update({k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in routing.items()})
    return record


def reply(cid: str, base: datetime, seconds: float, actor_kind: str | None = None) -> dict[str, Any]:
    record = event(cid, "agent_replied", seconds, base=base)
    if actor_kind is not None:
        record["actor_kind"] = actor_kind
    return record


async def test_business_clock_alerts_on_the_real_broker(
    kafka: KafkaHarness, services: ServiceFactory, alertmanager: str, tmp_path: Path
) -> None:
    base = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    env = {
        "TRIAGE_SLA_MONITOR_POLICY_FILE": str(policy_file(tmp_path, base)),
        "TRIAGE_SLA_MONITOR_ALERTMANAGER_URL": alertmanager,
        "TRIAGE_SLA_MONITOR_TRANSACTIONAL_ID": f"sla-biz-{uuid.uuid4().hex[:8]}",
        "TRIAGE_SLA_MONITOR_TICK_SECONDS": "0.1",
    }
    monitor = await services.start("sla-monitor", env)
    topics = kafka.topics
    inputs = [
        (topics.routed, dm("bot", base, 4, reply_window_closes_at=base + timedelta(seconds=8))),
        (topics.conversation_events, reply("bot", base, 1, actor_kind="automation")),  # a chatbot's "thanks!"
        (topics.routed, dm("human", base, 4)),
        (topics.conversation_events, reply("human", base, 1)),
        (topics.routed, dm("resolution", base, 60, resolution_target_seconds=3)),
        (topics.conversation_events, reply("resolution", base, 0.5)),
        (topics.routed, dm("after-hours", base, 1, calendar="closed-now")),
        (
            topics.routed,
            dm("restart", base, 30, calendar="always", reply_window_closes_at=base + timedelta(seconds=10)),
        ),
    ]
    for topic, record in inputs:
        await kafka.produce(topic, json.dumps(record), key=str(record["conversation_id"]))

    # the restart clock is saved before its input is committed: kill the monitor then
    state = await kafka.consumer(topics.sla_state, read_committed=True)
    saved: set[str] = set()
    while "restart" not in saved:
        saved |= {r.key.decode() for r in await kafka.consume(topics.sla_state, 1, consumer=state) if r.key}
    assert monitor.stop(signal.SIGKILL) == -signal.SIGKILL
    await services.start("sla-monitor", env)

    reader = await kafka.consumer(topics.sla_alerts, read_committed=True)
    records = await kafka.consume(topics.sla_alerts, 12, timeout=60, consumer=reader)
    records += await kafka.drain(reader, quiet_ms=3000)
    alerts = [json.loads(r.value) for r in records]
    seen = sorted((a["conversation_id"], a["kind"]) for a in alerts)
    assert seen == sorted(
        [
            ("bot", "warning"),
            ("bot", "breach"),
            ("bot", "window_closing"),
            ("bot", "escalation"),
            ("human", "follow_up_due"),
            ("resolution", "resolution_warning"),
            ("resolution", "resolution_breach"),
            ("resolution", "follow_up_due"),
            ("restart", "warning"),
            ("restart", "breach"),
            ("restart", "window_closing"),
            ("restart", "escalation"),
        ]
    )  # fmt: skip  -- once each, nothing for after-hours, no response alert for the human-answered DM
    due = {(a["conversation_id"], a["kind"]): datetime.fromisoformat(a["due_at"]) for a in alerts}
    # the automated reply did not stop the bot DM's clock: it breached at its target
    assert due["bot", "breach"] == base + timedelta(seconds=4)
    # restored after the kill with its window: due 2 s (the margin) before the window closes, not at 30 s
    assert due["restart", "breach"] == due["restart", "window_closing"] == base + timedelta(seconds=8)
    assert due["human", "follow_up_due"] == base + timedelta(seconds=4)
    kinds = {a["kind"]: a for a in alerts if a["conversation_id"] == "resolution"}
    assert kinds["follow_up_due"]["severity"] == "info" and kinds["resolution_breach"]["severity"] == "warning"

    paged = await wait_for_alerts(
        alertmanager,
        lambda active: (
            {("bot", "breach"), ("bot", "window_closing")}
            <= {(a["labels"]["conversation_id"], a["labels"]["kind"]) for a in active}
        ),
    )
    assert not any(a["labels"]["kind"] in ("follow_up_due", "warning") for a in paged)  # reminders do not page
