"""A correction routed again: the open clock adopts the new target, counted from when the
customer wrote; a resolved conversation or an unknown one is left alone."""

import json
import logging

from tests.sla_records import T0, event, routed
from triage_runtime.delivery import Inbound
from triage_schemas.policy import ClockPolicy
from triage_sla_monitor.config import SlaMonitorSettings
from triage_sla_monitor.monitor import Monitor

START = T0.timestamp()


def monitor() -> Monitor:
    return Monitor(SlaMonitorSettings(), ClockPolicy(), logging.getLogger("test"))


def routed_in(m: Monitor, record: dict[str, object], offset: int = 0) -> None:
    m.on_input(Inbound(json.dumps(record).encode(), topic=m.settings.topics.routed, partition=0, offset=offset))


def corrected(cid: str, target: int, issue_type: str = "safety_threat") -> dict[str, object]:
    record = routed(cid, 0, target=target, issue_type=issue_type, lane="risk", priority="P1")
    record["routing"]["owner"] = "trust-safety-lead"  # type: ignore[index]
    record["routing"]["corrected_by"] = f"fix-{cid}"  # type: ignore[index]
    return record


def test_a_corrected_conversation_breaches_on_its_new_shorter_target() -> None:
    m = monitor()
    routed_in(m, routed("c1", 0, target=3600, issue_type="feedback", lane="community", priority="P3"))
    routed_in(m, corrected("c1", target=900), offset=1)
    breaches = [a for a in m.store.fire(START + 901) if a.kind.value == "breach"]
    assert [(a.conversation_id, a.subject.issue_type, a.subject.owner, a.target_seconds) for a in breaches] == [
        ("c1", "safety_threat", "trust-safety-lead", 900)
    ]
    assert len(m.volumes) == 3  # the correction is not a new message: one message's volume only


def test_a_correction_of_a_resolved_or_unknown_conversation_starts_no_clock() -> None:
    m = monitor()
    routed_in(m, routed("c2", 0, target=3600))
    m.on_input(Inbound(json.dumps(event("c2", "resolved", 60)).encode(), topic=m.settings.topics.conversation_events))
    routed_in(m, corrected("c2", target=900), offset=1)
    routed_in(m, corrected("never-seen", target=900), offset=2)
    late = [a.kind.value for a in m.store.fire(START + 10_000) if a.kind.value in ("warning", "breach", "escalation")]
    assert late == []  # resolved at 60 s: no response alert, whatever the corrected target
    assert "never-seen" not in m.store.clocks
