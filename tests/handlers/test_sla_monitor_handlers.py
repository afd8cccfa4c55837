"""The SLA monitor's handler, built by ``triage_sla_monitor.app.build``: routed messages and
conversation events in; each touched clock written to the state topic (in a Kafka
transaction), the first response in ``/wait-times``, bad inputs dead-lettered. Each case
runs in memory and on the real broker (see conftest.py)."""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

import triage_sla_monitor.app
from tests.handlers.conftest import Start
from tests.handlers.harness import (
    InMemoryTransactionalProducer,
    Output,
    Outputs,
    RunningService,
    ServiceSpec,
    open_gate,
)
from tests.sla_records import event, routed
from triage_sla_monitor.app import build
from triage_sla_monitor.config import SlaMonitorSettings
from triage_sla_monitor.monitor import Monitor
from triage_sla_monitor.recovery import ClockState
from triage_sla_monitor.surge_watch import SurgeWatch


def _no_kafka_clients(monkeypatch: pytest.MonkeyPatch, outputs: Outputs) -> None:
    # Kafka only: the partition-count check in build(), and the transactional producer the
    # monitor writes clocks and alerts with (outside FastStream, so TestKafkaBroker never sees it).
    async def check_partitions(settings: SlaMonitorSettings) -> int:
        return settings.topics.partitions

    monkeypatch.setattr(triage_sla_monitor.app, "check_partitions", check_partitions)
    monkeypatch.setattr(Monitor, "make_producer", lambda self: InMemoryTransactionalProducer(outputs))
    open_gate(monkeypatch, ClockState, "restored")
    open_gate(monkeypatch, SurgeWatch, "restored")


SLA_MONITOR = ServiceSpec(
    "sla-monitor",
    settings=SlaMonitorSettings,
    build=build,
    outputs=lambda topics: [topics.sla_state, topics.sla_alerts, topics.sla_volume, topics.dlq],
    read_committed=lambda topics: [topics.sla_state, topics.sla_alerts, topics.sla_volume],  # in transactions
    memory_patches=_no_kafka_clients,
)


def monitor_env() -> dict[str, str]:
    # a transactional id of its own, so runs sharing the broker never fence each other
    return {"TRIAGE_SLA_MONITOR_TRANSACTIONAL_ID": f"handlers-{uuid.uuid4().hex[:8]}"}


def answered(found: list[Output]) -> bool:
    return any(o.value is not None and o.json()["answered_at"] is not None for o in found)


async def wait_times(monitor: RunningService) -> dict[str, Any]:
    response = await monitor.get("/wait-times")
    assert response.status_code == 200
    lanes: dict[str, Any] = response.json()["lanes"]
    return lanes


class TestSlaMonitorHandler:
    async def test_an_agent_reply_gives_the_conversation_its_first_response(self, start: Start) -> None:
        now = datetime.now(UTC)  # targets an hour out: no alert falls due during the case
        async with start(SLA_MONITOR, monitor_env()) as monitor:
            topics = monitor.topics
            await monitor.send(topics.routed, routed("c-1", 0, base=now), key="c-1")
            await monitor.send(topics.conversation_events, event("c-1", "agent_replied", 90, base=now), key="c-1")

            states = await monitor.outputs.wait_for(topics.sla_state, key="c-1", until=answered)
            waits = await wait_times(monitor)
        clock = states[-1].json()
        assert clock["answered_at"] - clock["started_at"] == pytest.approx(90)
        assert (clock["subject"]["lane"], clock["subject"]["priority"]) == ("support", "P2")
        assert waits == {"support": {"median_first_response_seconds": 90.0}}
        assert monitor.outputs.on(topics.sla_alerts) == []
        assert monitor.outputs.on(topics.dlq) == []

    async def test_an_automated_reply_stops_no_clock_and_the_human_reply_after_it_does(self, start: Start) -> None:
        now = datetime.now(UTC)
        bot = {**event("c-2", "agent_replied", 30, base=now), "actor": "autoresponder", "actor_kind": "automation"}
        async with start(SLA_MONITOR, monitor_env()) as monitor:
            topics = monitor.topics
            await monitor.send(topics.routed, routed("c-2", 0, base=now), key="c-2")
            await monitor.send(topics.conversation_events, bot, key="c-2")
            await monitor.send(topics.conversation_events, event("c-2", "agent_replied", 120, base=now), key="c-2")

            states = await monitor.outputs.wait_for(topics.sla_state, key="c-2", until=answered)
            waits = await wait_times(monitor)
        clock = states[-1].json()
        assert clock["answered_at"] - clock["started_at"] == pytest.approx(120)
        assert [s.json()["answered_at"] is None for s in states] == [True] * (len(states) - 1) + [False]
        assert waits == {"support": {"median_first_response_seconds": 120.0}}

    async def test_bad_inputs_are_dead_lettered_and_the_next_routed_message_starts_its_clock(
        self, start: Start
    ) -> None:
        now = datetime.now(UTC)
        not_routed = {k: v for k, v in routed("c-3", 0, base=now).items() if k != "routing"}
        not_routed["record_type"] = "classified"
        async with start(SLA_MONITOR, monitor_env()) as monitor:
            topics = monitor.topics
            await monitor.send(topics.routed, b"{broken", key="c-3")
            await monitor.send(topics.routed, not_routed, key="c-3")
            await monitor.send(topics.routed, routed("c-3", 0, base=now), key="c-3")

            letters = await monitor.outputs.wait_for(topics.dlq, 2)
            [state] = await monitor.outputs.wait_for(topics.sla_state, key="c-3")
        dead = [letter.json() for letter in letters]
        assert [d["stage"] for d in dead] == ["sla-monitor", "sla-monitor"]
        assert dead[0]["original"] == "{broken" and dead[0]["error"].startswith("not a valid record"), dead[0]
        assert dead[1]["error"] == "expected a routed record, got classified"
        clock = state.json()
        assert clock["started_at"] == pytest.approx(now.timestamp(), abs=1e-3)
        assert clock["answered_at"] is None
