"""The clock's rules on a fake clock: every timestamp is given, nothing sleeps."""

from triage_schemas.enums import AlertKind
from triage_schemas.policy import AlertFractions
from triage_sla_monitor.clock import Answered, ClockStore, Facts, Resolved, Subject

TARGET = 100


def subject() -> Subject:
    return Subject("support", "P2", "payment_issue", "support-lead", 1, "instagram", "direct_message", TARGET)


def store() -> ClockStore:
    return ClockStore(AlertFractions())


def kinds(alerts: list) -> list[AlertKind]:  # type: ignore[type-arg]
    return [a.kind for a in alerts]


def test_no_reply_warns_breaches_and_escalates_once_each_at_their_fractions() -> None:
    s = store()
    s.customer_message("c1", 1000.0, subject())
    assert s.fire(1079.0) == []
    warning = s.fire(1080.0)
    assert kinds(warning) == [AlertKind.WARNING]
    assert warning[0].due_at == 1080.0
    assert kinds(s.fire(1100.0)) == [AlertKind.BREACH]
    assert s.fire(1150.0) == []
    assert kinds(s.fire(1200.0)) == [AlertKind.ESCALATION]
    assert s.fire(5000.0) == []


def test_late_fire_emits_every_overdue_alert_in_order() -> None:
    s = store()
    s.customer_message("c1", 0.0, subject())
    assert kinds(s.fire(10_000.0)) == [AlertKind.WARNING, AlertKind.BREACH, AlertKind.ESCALATION]


def test_alert_ids_are_deterministic_per_conversation_clock_and_kind() -> None:
    a, b = store(), store()
    for s in (a, b):
        s.customer_message("c1", 0.0, subject())
    assert [x.alert_id for x in a.fire(500.0)] == [x.alert_id for x in b.fire(500.0)]
    assert len({x.alert_id for x in store_fire_all()}) == 3


def store_fire_all() -> list:  # type: ignore[type-arg]
    s = store()
    s.customer_message("c1", 0.0, subject())
    return s.fire(500.0)


def test_reply_before_warning_gives_no_alert_and_records_first_response() -> None:
    s = store()
    s.customer_message("c1", 0.0, subject())
    _, outcomes = s.event("c1", Facts.REPLY, 30.0)
    assert outcomes == [Answered(subject(), 30.0)]
    assert s.fire(1000.0) == []


def test_follow_up_message_does_not_restart_the_clock() -> None:
    s = store()
    s.customer_message("c1", 0.0, subject())
    s.customer_message("c1", 50.0, subject())
    assert kinds(s.fire(80.0)) == [AlertKind.WARNING]


def test_pause_does_not_count_and_resume_continues() -> None:
    s = store()
    s.customer_message("c1", 0.0, subject())
    s.event("c1", Facts.PAUSE, 10.0)
    assert s.fire(500.0) == []
    s.event("c1", Facts.RESUME, 510.0)  # 500 s paused
    assert s.fire(579.0) == []
    assert kinds(s.fire(580.0)) == [AlertKind.WARNING]


def test_redelivered_inputs_repeat_no_alert_and_keep_the_clock() -> None:
    s = store()
    s.customer_message("c1", 0.0, subject())
    s.event("c1", Facts.PAUSE, 10.0)
    s.event("c1", Facts.RESUME, 20.0)
    assert kinds(s.fire(100.0)) == [AlertKind.WARNING]
    # the whole input again, as after a crash before the offsets were committed
    s.customer_message("c1", 0.0, subject())
    s.event("c1", Facts.PAUSE, 10.0)
    s.event("c1", Facts.RESUME, 20.0)
    assert s.fire(105.0) == []
    assert kinds(s.fire(110.0)) == [AlertKind.BREACH]


def test_reply_arriving_before_its_routed_message_stops_the_clock() -> None:
    s = store()
    s.event("c1", Facts.REPLY, 40.0)
    _, outcomes = s.customer_message("c1", 0.0, subject())
    assert outcomes == [Answered(subject(), 40.0)]
    assert s.fire(1000.0) == []


def test_old_reply_does_not_answer_a_newer_message() -> None:
    s = store()
    s.event("c1", Facts.REPLY, 0.0)
    s.customer_message("c1", 10.0, subject())
    assert kinds(s.fire(90.0)) == [AlertKind.WARNING]


def test_earlier_customer_message_delivered_late_moves_the_start_back() -> None:
    s = store()
    s.customer_message("c1", 50.0, subject())
    s.customer_message("c1", 0.0, subject())
    assert kinds(s.fire(80.0)) == [AlertKind.WARNING]


def test_message_after_the_reply_starts_a_new_clock_with_its_own_alerts() -> None:
    s = store()
    s.customer_message("c1", 0.0, subject())
    assert kinds(s.fire(80.0)) == [AlertKind.WARNING]
    s.event("c1", Facts.REPLY, 90.0)
    s.customer_message("c1", 200.0, subject())
    alerts = s.fire(280.0)
    assert kinds(alerts) == [AlertKind.WARNING]
    assert alerts[0].alert_id == "c1:1:warning"


def test_spam_has_no_clock() -> None:
    s = store()
    s.customer_message("c1", 0.0, None)
    assert s.fire(10_000.0) == []


def test_resolve_stops_alerts_and_measures_resolution_reopen_starts_again() -> None:
    s = store()
    s.customer_message("c1", 0.0, subject())
    s.event("c1", Facts.REPLY, 10.0)
    _, outcomes = s.event("c1", Facts.RESOLVE, 300.0)
    assert outcomes == [Resolved(subject(), 300.0)]
    assert s.fire(10_000.0) == []
    s.event("c1", Facts.REOPEN, 20_000.0)
    assert kinds(s.fire(20_080.0)) == [AlertKind.WARNING]


def test_unanswered_resolved_conversation_raises_no_further_alert() -> None:
    s = store()
    s.customer_message("c1", 0.0, subject())
    s.event("c1", Facts.RESOLVE, 50.0)
    assert s.fire(10_000.0) == []


def test_configured_fractions_are_used() -> None:
    s = ClockStore(AlertFractions(warning=0.5, breach=1.0, escalation=3.0))
    s.customer_message("c1", 0.0, subject())
    assert kinds(s.fire(50.0)) == [AlertKind.WARNING]
    assert kinds(s.fire(299.0)) == [AlertKind.BREACH]
    assert kinds(s.fire(300.0)) == [AlertKind.ESCALATION]
