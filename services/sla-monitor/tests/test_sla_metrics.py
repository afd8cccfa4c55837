"""What Prometheus is told: configured histogram buckets, overdue conversations by lane
and priority, and escalations carried to leadership's tier."""

import pytest
from prometheus_client import REGISTRY

from triage_schemas.enums import AlertKind
from triage_schemas.policy import AlertFractions
from triage_sla_monitor.clock import Answered, ClockStore, Facts, Subject
from triage_sla_monitor.config import SlaMonitorSettings
from triage_sla_monitor.inputs import alert_record
from triage_sla_monitor.metrics import Figures


def subject(priority: str = "P1", target: int = 100) -> Subject:
    return Subject("support", priority, "account_compromise", "security-oncall", 1, "x", "direct_message", target)


def sample(name: str, labels: dict[str, str]) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_first_responses_land_in_the_configured_buckets() -> None:
    figures = Figures(recent=10, dm_window_seconds=300, buckets=(1.0, 2.0, 4.0))
    store = ClockStore(AlertFractions())
    store.customer_message("fr-1", 0.0, subject())
    _, outcomes = store.event("fr-1", Facts.REPLY, 1.5)
    [answered] = [o for o in outcomes if isinstance(o, Answered)]
    figures.answered(answered, now=1.5)
    labels = {"lane": "support", "priority": "P1", "platform": "x"}
    assert sample("triage_sla_first_response_seconds_bucket", {**labels, "le": "1.0"}) == 0
    assert sample("triage_sla_first_response_seconds_bucket", {**labels, "le": "2.0"}) == 1


def test_overdue_gauge_counts_unanswered_conversations_past_target_by_priority() -> None:
    figures = Figures(recent=10, dm_window_seconds=300)
    store = ClockStore(AlertFractions())
    store.customer_message("od-1", 0.0, subject("P1", 100))
    store.customer_message("od-2", 50.0, subject("P1", 100))
    store.customer_message("od-3", 0.0, subject("P2", 1000))
    figures.refresh(store, now=120.0)
    assert sample("triage_sla_overdue_conversations", {"lane": "support", "priority": "P1"}) == 1
    assert sample("triage_sla_overdue_conversations", {"lane": "support", "priority": "P2"}) == 0


def test_an_escalation_alert_goes_to_leadership_whatever_the_routed_tier() -> None:
    store = ClockStore(AlertFractions())
    start = 1_764_000_000.0  # alerts carry real timestamps (2025)
    store.customer_message("esc-1", start, subject())
    alerts = {a.kind: alert_record(a) for a in store.fire(start + 1_000.0)}
    assert alerts[AlertKind.BREACH].tier == 1
    assert alerts[AlertKind.ESCALATION].tier == 2


def test_buckets_must_increase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_SLA_MONITOR_HISTOGRAM_BUCKETS_SECONDS", "[5, 1]")
    with pytest.raises(ValueError, match="strictly increasing"):
        SlaMonitorSettings()
    monkeypatch.setenv("TRIAGE_SLA_MONITOR_HISTOGRAM_BUCKETS_SECONDS", "[1, 2.5, 10]")
    assert SlaMonitorSettings().histogram_buckets_seconds == (1.0, 2.5, 10.0)
