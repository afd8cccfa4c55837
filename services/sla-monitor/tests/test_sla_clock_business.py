"""The clock the way a care team works: open hours, reply windows, next response,
resolution, follow-up and closure-note reminders; every timestamp is given."""

from datetime import datetime
from zoneinfo import ZoneInfo

from triage_schemas.business_time import build_calendar
from triage_schemas.enums import AlertKind, ResponseKind
from triage_schemas.policy import AlertFractions
from triage_sla_monitor import state
from triage_sla_monitor.clock import BIT, Answered, ClockStore, Facts, Subject

PARIS = ZoneInfo("Europe/Paris")
OFFICE = build_calendar(
    "paris-office", "Europe/Paris", {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
)
HOUR = 3600


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS).timestamp()


def local(moment: float) -> str:
    return datetime.fromtimestamp(moment, PARIS).strftime("%a %H:%M")


def subject(**changes: object) -> Subject:
    base = Subject("support", "P2", "payment_issue", "support-lead", 1, "messenger", "direct_message", HOUR,
                   calendar="paris-office")  # fmt: skip
    for name, value in changes.items():
        setattr(base, name, value)
    return base


def store(follow_up_after: float | None = None) -> ClockStore:
    return ClockStore(AlertFractions(), calendars={"paris-office": OFFICE}, follow_up_after=follow_up_after)


def fired(s: ClockStore, now: float) -> list[tuple[str, str]]:
    return [(a.kind.value, local(a.due_at)) for a in s.fire(now)]


def test_a_message_at_night_breaches_in_the_morning_not_at_night() -> None:
    s = store()
    s.customer_message("c1", at("2026-12-01 02:00"), subject())  # a Tuesday
    assert s.fire(at("2026-12-01 08:59")) == []
    assert fired(s, at("2026-12-01 10:00")) == [("warning", "Tue 09:48"), ("breach", "Tue 10:00")]
    assert fired(s, at("2026-12-01 11:00")) == [("escalation", "Tue 11:00")]


def test_friday_evening_is_due_monday_and_the_weekend_does_not_count() -> None:
    s = store()
    s.customer_message("c1", at("2026-12-04 17:30"), subject())
    assert s.fire(at("2026-12-07 09:00")) == []
    assert fired(s, at("2026-12-07 09:30")) == [("warning", "Mon 09:18"), ("breach", "Mon 09:30")]
    _, [answered] = s.event("c1", Facts.REPLY, at("2026-12-07 09:40"))
    assert isinstance(answered, Answered)
    assert answered.first_response_seconds == 70 * 60  # 30 min on Friday, 40 on Monday


def test_without_a_calendar_a_priority_counts_wall_time() -> None:
    s = store()
    s.customer_message("c1", at("2026-12-05 03:00"), subject(calendar=None, priority="P1"))
    assert fired(s, at("2026-12-05 04:00")) == [("warning", "Sat 03:48"), ("breach", "Sat 04:00")]


def test_a_reply_window_caps_every_response_alert_and_warns_before_it_closes() -> None:
    s = store()
    received = at("2026-12-04 17:30")  # Friday: the calendar alone would say Monday 09:30
    window_deadline = received + 24 * HOUR - HOUR  # Meta's 24 h window, minus a 1 h margin
    s.customer_message("c1", received, subject(), window_deadline=window_deadline)
    alerts = s.fire(at("2026-12-05 17:00"))
    assert [(a.kind.value, local(a.due_at)) for a in alerts] == [
        ("warning", "Sat 11:54"),  # 80 % of the 23 h left, not of the calendar's target
        ("breach", "Sat 16:30"),
        ("window_closing", "Sat 16:30"),
    ]
    assert fired(s, at("2026-12-07 12:00")) == [("escalation", "Sun 15:30")]  # twice the room left


def test_the_window_closing_alert_is_not_sent_once_a_human_answered() -> None:
    s = store()
    received = at("2026-12-01 10:00")
    s.customer_message("c1", received, subject(), window_deadline=received + 23 * HOUR)
    s.event("c1", Facts.REPLY, at("2026-12-01 10:30"))
    assert s.fire(at("2026-12-03 10:00")) == []


def test_a_customer_writing_again_after_a_reply_starts_a_next_response_clock_with_its_target() -> None:
    s = store()
    s.customer_message("c1", at("2026-12-01 10:00"), subject(next_target_seconds=2 * HOUR))
    s.event("c1", Facts.REPLY, at("2026-12-01 10:10"))
    s.customer_message("c1", at("2026-12-01 11:00"), subject(next_target_seconds=2 * HOUR))
    alerts = s.fire(at("2026-12-01 13:00"))
    assert [(a.kind.value, a.response, a.target_seconds) for a in alerts] == [
        ("warning", ResponseKind.NEXT, 2 * HOUR),
        ("breach", ResponseKind.NEXT, 2 * HOUR),
    ]
    _, [answered] = s.event("c1", Facts.REPLY, at("2026-12-01 13:30"))
    assert isinstance(answered, Answered)
    assert answered.response is ResponseKind.NEXT and answered.first_response_seconds == 2.5 * HOUR


def test_resolution_warns_and_breaches_in_open_hours_and_stops_at_resolved() -> None:
    s = store()
    s.customer_message("c1", at("2026-12-01 10:00"), subject(resolution_target_seconds=10 * HOUR))
    s.event("c1", Facts.REPLY, at("2026-12-01 10:05"))
    assert fired(s, at("2026-12-02 12:00")) == [("resolution_warning", "Tue 18:00"), ("resolution_breach", "Wed 11:00")]
    s2 = store()
    s2.customer_message("c2", at("2026-12-01 10:00"), subject(resolution_target_seconds=10 * HOUR))
    s2.event("c2", Facts.REPLY, at("2026-12-01 10:05"))
    s2.event("c2", Facts.RESOLVE, at("2026-12-01 16:00"))
    assert s2.fire(at("2026-12-09 12:00")) == []


def test_a_quiet_customer_gets_one_follow_up_reminder_after_the_brand_replied() -> None:
    s = store(follow_up_after=48 * HOUR)
    s.customer_message("c1", at("2026-12-01 10:00"), subject())
    s.event("c1", Facts.REPLY, at("2026-12-01 10:20"))
    assert s.fire(at("2026-12-03 10:19")) == []
    [reminder] = s.fire(at("2026-12-03 10:20"))
    assert reminder.kind is AlertKind.FOLLOW_UP_DUE
    assert s.fire(at("2026-12-20 10:00")) == []


def test_no_follow_up_when_the_customer_wrote_back_or_the_conversation_was_resolved() -> None:
    s = store(follow_up_after=48 * HOUR)
    s.customer_message("c1", at("2026-12-01 10:00"), subject())
    s.event("c1", Facts.REPLY, at("2026-12-01 10:20"))
    s.customer_message("c1", at("2026-12-01 12:00"), subject())  # wrote back: a next response is due instead
    assert [k for k, _ in fired(s, at("2026-12-04 10:00"))] == ["warning", "breach", "escalation"]
    s.customer_message("c2", at("2026-12-01 10:00"), subject())
    s.event("c2", Facts.REPLY, at("2026-12-01 10:20"))
    s.event("c2", Facts.RESOLVE, at("2026-12-01 11:00"))
    assert s.fire(at("2026-12-04 10:00")) == []


def test_a_public_conversation_moved_to_dm_gets_a_closure_note_reminder_when_resolved() -> None:
    s = store()
    s.customer_message("c1", at("2026-12-01 10:00"), subject(channel="public_comment", moved_to_dm=True))
    s.event("c1", Facts.REPLY, at("2026-12-01 10:10"))
    clock, _ = s.event("c1", Facts.RESOLVE, at("2026-12-01 15:00"))
    assert not s.finished(clock)  # the reminder is still to be sent
    [reminder] = s.fire(at("2026-12-01 15:00"))
    assert reminder.kind is AlertKind.CLOSURE_NOTE_DUE
    assert s.finished(clock)


def test_a_restored_clock_keeps_its_calendar_window_and_fires_at_the_same_time() -> None:
    before = store()
    received = at("2026-12-04 17:30")
    before.customer_message("c1", received, subject(), window_deadline=received + 23 * HOUR)
    after = store()
    after.restore(state.load("c1", state.dump(before.clocks["c1"])))
    assert [(a.kind, a.due_at) for a in after.fire(at("2026-12-06 00:00"))] == [
        (a.kind, a.due_at) for a in before.fire(at("2026-12-06 00:00"))
    ]


def test_alert_bits_are_fixed_whatever_the_enum_order() -> None:
    assert sorted(BIT.values()) == [1 << n for n in range(8)]
    assert set(BIT) == set(AlertKind)
