"""Bad input to the monitor is rejected with a reason (the shared step dead-letters it)."""

import json
import logging

import pytest

from tests.sla_records import event, routed
from triage_runtime.delivery import Inbound, Rejected
from triage_schemas.policy import ClockPolicy
from triage_sla_monitor.config import SlaMonitorSettings
from triage_sla_monitor.monitor import Monitor


def monitor() -> Monitor:
    return Monitor(SlaMonitorSettings(), ClockPolicy(), logging.getLogger("test"))


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"{not json", "not a valid record"),
        (b"\xff\xfe", "not a valid record"),
        (json.dumps({**routed("c1", 0), "platform": "myspace"}).encode(), "platform"),
        (json.dumps(event("c1", "paused", 0)).encode(), "expected a routed record"),
    ],
)
def test_routed_topic_rejects_what_it_cannot_use(value: bytes, reason: str) -> None:
    with pytest.raises(Rejected, match=reason):
        monitor().on_routed(Inbound(value=value))


def test_events_topic_rejects_other_records_and_applies_events() -> None:
    m = monitor()
    with pytest.raises(Rejected, match="expected a conversation_event"):
        m.on_event(Inbound(value=json.dumps(routed("c1", 0)).encode()))
    m.on_routed(Inbound(value=json.dumps(routed("c1", 0)).encode()))
    m.on_event(Inbound(value=json.dumps(event("c1", "agent_replied", 5)).encode()))
    assert m.store.clocks["c1"].answered_at is not None
    assert m.dirty == {"c1"}
