"""Business-time arithmetic, table-driven: overnight, weekends, holidays, both DST
changes in Europe/Paris and America/New_York, targets longer than a working day."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from triage_schemas.business_time import Calendar, add_seconds, build_calendar, seconds_between

PARIS, NEW_YORK = ZoneInfo("Europe/Paris"), ZoneInfo("America/New_York")
WEEKDAYS_9_TO_6 = {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}

PARIS_OFFICE = build_calendar(
    "paris-office",
    "Europe/Paris",
    {**WEEKDAYS_9_TO_6, "fri": ["09:00-17:00"]},
    holidays=["2026-12-25", "2027-01-01"],
)
PARIS_9_TO_6 = build_calendar("paris-9-6", "Europe/Paris", WEEKDAYS_9_TO_6, holidays=["2026-12-25"])
PARIS_ALWAYS = build_calendar("paris-always", "Europe/Paris", {d: ["00:00-24:00"] for d in
                              ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})  # fmt: skip
PARIS_NIGHT_SUNDAY = build_calendar("paris-night", "Europe/Paris", {"sun": ["01:00-04:00"]})
PARIS_EARLY_SUNDAY = build_calendar("paris-early", "Europe/Paris", {"sun": ["00:00-06:00"]})
NEW_YORK_OFFICE = build_calendar("ny", "America/New_York", {d: ["09:00-17:00"] for d in
                                 ("mon", "tue", "wed", "thu", "fri")})  # fmt: skip
SPLIT_SHIFT = build_calendar("split", "Europe/Paris", {"mon": ["14:00-18:00", "08:00-12:00"]})


def at(zone: ZoneInfo, text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


def local(zone: ZoneInfo, moment: float) -> str:
    return datetime.fromtimestamp(moment, zone).strftime("%a %Y-%m-%d %H:%M")


HOUR = 3600

CASES = [
    # (calendar, zone, received, target seconds, due, what it shows)
    (PARIS_OFFICE, PARIS, "2026-12-01 02:00", HOUR, "Tue 2026-12-01 10:00", "overnight: the clock waits for 09:00"),
    (PARIS_9_TO_6, PARIS, "2026-12-04 17:30", HOUR, "Mon 2026-12-07 09:30", "Friday evening: due Monday"),
    (PARIS_OFFICE, PARIS, "2026-12-04 17:30", HOUR, "Mon 2026-12-07 10:00", "after Friday's early close"),
    (PARIS_OFFICE, PARIS, "2026-12-05 11:00", HOUR, "Mon 2026-12-07 10:00", "weekend"),
    (PARIS_OFFICE, PARIS, "2026-12-24 17:30", HOUR, "Mon 2026-12-28 09:30", "Christmas is closed all day"),
    (PARIS_OFFICE, PARIS, "2026-12-31 17:30", HOUR, "Mon 2027-01-04 09:30", "New Year's Day is closed too"),
    (PARIS_OFFICE, PARIS, "2026-11-30 09:00", 20 * HOUR, "Wed 2026-12-02 11:00", "longer than a working day"),
    (PARIS_OFFICE, PARIS, "2026-11-30 12:00", 0, "Mon 2026-11-30 12:00", "nothing to add while open"),
    (PARIS_ALWAYS, PARIS, "2027-03-27 23:30", 3 * HOUR, "Sun 2027-03-28 03:30", "spring forward: 02:00 never happens"),
    (PARIS_NIGHT_SUNDAY, PARIS, "2027-03-28 01:00", 2 * HOUR, "Sun 2027-03-28 04:00", "01:00-04:00 is 2 h that night"),
    (PARIS_ALWAYS, PARIS, "2026-10-25 01:30", 2 * HOUR, "Sun 2026-10-25 02:30", "fall back: 02:00-03:00 twice"),
    (PARIS_EARLY_SUNDAY, PARIS, "2026-10-25 00:00", 7 * HOUR, "Sun 2026-10-25 06:00", "00:00-06:00 is 7 h that night"),
    (
        NEW_YORK_OFFICE,
        NEW_YORK,
        "2027-03-12 16:00",
        2 * HOUR,
        "Mon 2027-03-15 10:00",
        "New York, spring forward",
    ),
    (NEW_YORK_OFFICE, NEW_YORK, "2026-10-30 16:30", HOUR, "Mon 2026-11-02 09:30", "New York, across fall back"),
    (SPLIT_SHIFT, PARIS, "2026-11-30 11:00", 2 * HOUR, "Mon 2026-11-30 15:00", "a lunch break does not count"),
]


@pytest.mark.parametrize(("calendar", "zone", "received", "target", "due", "what"), CASES, ids=[c[-1] for c in CASES])
def test_a_target_is_counted_in_open_hours(
    calendar: Calendar, zone: ZoneInfo, received: str, target: int, due: str, what: str
) -> None:
    start = at(zone, received)
    deadline = calendar.add_open_seconds(start, target)
    assert local(zone, deadline) == due
    assert calendar.open_seconds(start, deadline) == target  # the two agree


def test_new_york_deadline_is_the_right_instant_after_the_change() -> None:
    deadline = NEW_YORK_OFFICE.add_open_seconds(at(NEW_YORK, "2027-03-12 16:00"), 2 * HOUR)
    assert datetime.fromtimestamp(deadline, ZoneInfo("UTC")).strftime("%H:%M") == "14:00"  # EDT is UTC-4


def test_without_a_calendar_the_clock_is_the_wall_clock() -> None:
    start = at(PARIS, "2026-12-05 03:00")  # a Saturday night
    assert add_seconds(None, start, HOUR) == start + HOUR
    assert seconds_between(None, start, start + 90) == 90
    assert add_seconds(PARIS_OFFICE, start, HOUR) == at(PARIS, "2026-12-07 10:00")


def test_open_seconds_between_two_moments() -> None:
    friday_noon, monday_noon = at(PARIS, "2026-12-04 12:00"), at(PARIS, "2026-12-07 12:00")
    assert PARIS_OFFICE.open_seconds(friday_noon, monday_noon) == 8 * HOUR  # 12-17 Friday, 09-12 Monday
    assert PARIS_OFFICE.open_seconds(monday_noon, friday_noon) == 0


@pytest.mark.parametrize(
    ("weekly", "timezone", "holidays", "message"),
    [
        ({"mon": ["18:00-09:00"]}, "Europe/Paris", [], "ends before it starts: split an overnight shift"),
        ({"mon": ["9-5"]}, "Europe/Paris", [], "is not an interval of open hours"),
        ({"monday": ["09:00-17:00"]}, "Europe/Paris", [], "unknown weekdays ['monday']"),
        ({"mon": ["09:00-17:00"]}, "Paris", [], "unknown time zone 'Paris'"),
        ({"mon": ["09:00-13:00", "12:00-17:00"]}, "Europe/Paris", [], "the open hours of mon overlap"),
        ({}, "Europe/Paris", [], "has no open hours in the week"),
        ({"mon": ["09:00-17:00"]}, "Europe/Paris", ["25/12/2026"], "Invalid isoformat"),
    ],
)
def test_a_calendar_that_makes_no_sense_is_refused_with_the_reason(
    weekly: dict[str, list[str]], timezone: str, holidays: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
        build_calendar("team", timezone, weekly, holidays)


def test_a_calendar_closed_for_over_a_year_has_no_deadline_rather_than_a_hang() -> None:
    first_monday = date(2026, 12, 7)
    mondays = [first_monday + timedelta(weeks=n) for n in range(60)]  # every Monday for over a year
    closed = build_calendar("closed", "Europe/Paris", {"mon": ["09:00-10:00"]}, mondays)
    assert closed.add_open_seconds(at(PARIS, "2026-12-05 12:00"), HOUR) == float("inf")
    reopened = build_calendar("reopened", "Europe/Paris", {"mon": ["09:00-10:00"]}, mondays[:3])
    assert local(PARIS, reopened.add_open_seconds(at(PARIS, "2026-12-05 12:00"), HOUR)) == "Mon 2026-12-28 10:00"
