"""Deadlines the way a care team counts them: the owning team's open hours, on-call
priorities around the clock, platform reply windows as a cap, next-response and
resolution targets stamped for the SLA monitor."""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from tests.factories import classified
from triage_router.policy import DEFAULT_POLICY, PolicyError, RoutingPolicy, parse_policy
from triage_router.routing import route

PARIS = ZoneInfo("Europe/Paris")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def policy(**sla: Any) -> RoutingPolicy:
    data = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))
    data["calendars"] = {
        "paris-office": {
            "timezone": "Europe/Paris",
            "weekly": {day: ["09:00-18:00"] for day in WEEKDAYS},
            "holidays": ["2026-12-25"],
        }
    }
    data["teams"]["support"]["calendar"] = "paris-office"
    data["sla"] = {**data["sla"], **sla}
    return parse_policy(data, "test")


def paris(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS)


def local(moment: datetime | None) -> str:
    assert moment is not None
    return moment.astimezone(PARIS).strftime("%a %Y-%m-%d %H:%M")


def test_a_support_message_on_friday_evening_is_due_monday_in_the_teams_hours() -> None:
    # payment_issue: support-lead (a member of the support team), 1 h target
    routed = route(classified("payment_issue", received_at=paris("2026-12-04 17:30")), policy())
    assert local(routed.routing.first_response_due_at) == "Mon 2026-12-07 09:30"
    assert routed.routing.calendar == "paris-office"
    assert any("open hours (calendar paris-office)" in reason for reason in routed.routing.reasons)


def test_a_holiday_counts_as_closed() -> None:
    routed = route(classified("payment_issue", received_at=paris("2026-12-24 17:30")), policy())
    assert local(routed.routing.first_response_due_at) == "Mon 2026-12-28 09:30"


def test_on_call_priorities_keep_a_wall_clock_target() -> None:
    # account_compromise is P1 in support: around the clock by default
    routed = route(classified("account_compromise", received_at=paris("2026-12-05 03:00")), policy())
    assert local(routed.routing.first_response_due_at) == "Sat 2026-12-05 03:15"
    assert routed.routing.calendar is None
    hours = route(classified("account_compromise", received_at=paris("2026-12-05 03:00")), policy(around_the_clock=[]))
    assert local(hours.routing.first_response_due_at) == "Mon 2026-12-07 09:15"


def test_a_team_without_a_calendar_works_around_the_clock() -> None:
    routed = route(classified("feedback", received_at=paris("2026-12-05 03:00")), policy())  # social-care: no calendar
    assert local(routed.routing.first_response_due_at) == "Sat 2026-12-05 09:00"  # 6 h later
    assert routed.routing.calendar is None


def test_a_messenger_dm_is_never_due_after_its_reply_window_closes() -> None:
    friday = paris("2026-12-04 17:30")
    dm = classified("technical_issue", platform="messenger", channel="direct_message", received_at=friday)
    routed = route(dm, policy(targets={"technical_issue": "3d"}))  # three working days: Wednesday
    r = routed.routing
    assert local(r.reply_window_closes_at) == "Sat 2026-12-05 17:30"  # Meta's 24 h standard window
    assert local(r.first_response_due_at) == "Sat 2026-12-05 16:30"  # minus the default 1 h margin
    assert any("reply window closes" in reason for reason in r.reasons)


def test_public_comments_and_other_platforms_have_no_window() -> None:
    comment = route(classified("payment_issue", platform="instagram", channel="public_comment"), policy())
    x_dm = route(classified("payment_issue", platform="x", channel="direct_message"), policy())
    assert comment.routing.reply_window_closes_at is None and x_dm.routing.reply_window_closes_at is None


def test_next_response_and_resolution_targets_are_stamped() -> None:
    routed = route(
        classified("payment_issue", received_at=paris("2026-12-01 10:00")),
        policy(next_response={"targets": {"payment_issue": "30m"}}, resolution={"fallback": {"support": {"P2": "2d"}}}),
    )
    r = routed.routing
    assert r.next_response_target_seconds == 1800
    assert r.resolution_target_seconds == 2 * 86_400
    assert local(r.resolution_due_at) == "Tue 2026-12-08 13:00"  # 48 open hours: 8 + 9 + 9 + 9 + 9 + 4
    default_next = route(classified("payment_issue"), policy()).routing
    assert default_next.next_response_target_seconds == default_next.first_response_target_seconds
    assert route(classified("feedback"), policy()).routing.resolution_target_seconds is None  # no resolution clock


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            lambda d: d["teams"]["support"].update(calendar="london"),
            "teams.support.calendar: 'london' is not a calendar",
        ),
        (lambda d: d["calendars"]["paris-office"].update(timezone="Paris"), "unknown time zone 'Paris'"),
        (lambda d: d["calendars"]["paris-office"]["weekly"].update(mon=["18:00-09:00"]), "split an overnight shift"),
        (lambda d: d["sla"].update(around_the_clock=["P4"]), "sla.around_the_clock.0"),
        (lambda d: d["sla"].update(reply_windows={"margin": "soon"}), "sla.reply_windows.margin"),
    ],
)
def test_a_calendar_or_window_a_lead_gets_wrong_is_refused_with_its_path(change: Any, error: str) -> None:
    data = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))
    data["calendars"] = {"paris-office": {"timezone": "Europe/Paris", "weekly": {"mon": ["09:00-18:00"]}}}
    data["teams"]["support"]["calendar"] = "paris-office"
    change(data)
    with pytest.raises(PolicyError) as refused:
        parse_policy(data, "test")
    assert any(error in line for line in refused.value.errors), refused.value.errors
