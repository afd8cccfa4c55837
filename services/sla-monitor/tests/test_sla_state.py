"""A clock survives the trip through the compacted state topic's JSON, alerts already sent included."""

from triage_schemas.enums import AlertKind
from triage_schemas.policy import AlertFractions
from triage_sla_monitor import state
from triage_sla_monitor.clock import ClockStore, Facts, Subject


def test_restored_clock_fires_only_the_alerts_not_yet_sent() -> None:
    subject = Subject("risk", "P1", "safety_threat", "trust-safety-lead", 1, "x", "mention", 100)
    before = ClockStore(AlertFractions())
    before.customer_message("c1", 0.0, subject)
    before.event("c1", Facts.PAUSE, 10.0)
    before.event("c1", Facts.RESUME, 30.0)
    assert [a.kind for a in before.fire(100.0)] == [AlertKind.WARNING]
    after = ClockStore(AlertFractions())
    after.restore(state.load("c1", state.dump(before.clocks["c1"])))
    assert after.fire(100.0) == []
    assert [a.kind for a in after.fire(120.0)] == [AlertKind.BREACH]
