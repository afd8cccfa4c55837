"""Business time: a team's open hours, counted the way a care lead counts them.

A target of one hour on a message received Friday 17:30 in Paris, for a team open
09:00-18:00 weekdays, is due Monday 09:30 Paris time: only open seconds count. Open
hours are local wall-clock times in the calendar's IANA time zone, so daylight-saving
changes come from the time zone database (``zoneinfo``), never from fixed offsets.
A holiday is closed all day. A team without a calendar works around the clock.

Times are epoch seconds, as in the SLA clock; nothing here reads the wall clock.
"""

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# A calendar closed for longer than this (a year of holidays) has no next opening:
# the search stops instead of running forever.
MAX_SEARCH_DAYS = 400


def parse_interval(text: str) -> tuple[time, time | None]:
    """``"09:00-18:00"`` -> (09:00, 18:00); an end of ``24:00`` is midnight after (None)."""
    try:
        start_text, end_text = (part.strip() for part in text.split("-"))
        start = time.fromisoformat(start_text)
        end = None if end_text == "24:00" else time.fromisoformat(end_text)
    except ValueError:
        raise ValueError(f"'{text}' is not an interval of open hours (use e.g. 09:00-18:00, or 00:00-24:00)") from None
    if end is not None and end <= start:
        raise ValueError(
            f"'{text}' ends before it starts: split an overnight shift into two days (e.g. 22:00-24:00 and 00:00-06:00)"
        )
    return start, end


@dataclass(frozen=True)
class Calendar:
    """Open hours per weekday (Monday = 0) in local time, and closed days."""

    name: str
    timezone: ZoneInfo
    weekly: Mapping[int, Sequence[tuple[time, time | None]]]
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if not any(self.weekly.get(day) for day in range(7)):
            raise ValueError(f"calendar {self.name} has no open hours in the week")

    def _open_on(self, day: date) -> Iterator[tuple[float, float]]:
        """The open intervals of one local day, as epoch seconds."""
        if day in self.holidays:
            return
        for start, end in self.weekly.get(day.weekday(), ()):
            opens = datetime.combine(day, start, tzinfo=self.timezone)
            if end is None:
                closes = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.timezone)
            else:
                closes = datetime.combine(day, end, tzinfo=self.timezone)
            a, b = opens.timestamp(), closes.timestamp()
            if b > a:  # an interval swallowed by a spring-forward gap is empty
                yield a, b

    def _intervals_from(self, moment: float) -> Iterator[tuple[float, float]]:
        """Open intervals ending after ``moment``, in order, clipped to start at it."""
        day = datetime.fromtimestamp(moment, self.timezone).date() - timedelta(days=1)
        for _ in range(MAX_SEARCH_DAYS):
            for a, b in self._open_on(day):
                if b > moment:
                    yield max(a, moment), b
            day += timedelta(days=1)

    def add_open_seconds(self, start: float, seconds: float) -> float:
        """The moment ``seconds`` of open time after ``start`` (``inf`` when never open)."""
        remaining = max(0.0, seconds)
        for a, b in self._intervals_from(start):
            if remaining <= b - a:
                return a + remaining
            remaining -= b - a
        return math.inf

    def open_seconds(self, start: float, end: float) -> float:
        """Open seconds between ``start`` and ``end``."""
        if end <= start:
            return 0.0
        total = 0.0
        for a, b in self._intervals_from(start):
            if a >= end:
                break
            total += min(b, end) - a
        return total

    def is_open(self, moment: float) -> bool:
        return self.open_seconds(moment, moment + 1) > 0


def add_seconds(calendar: Calendar | None, start: float, seconds: float) -> float:
    """``start`` plus ``seconds`` counted on ``calendar`` (wall-clock seconds without one)."""
    return start + seconds if calendar is None else calendar.add_open_seconds(start, seconds)


def seconds_between(calendar: Calendar | None, start: float, end: float) -> float:
    """Counted seconds from ``start`` to ``end`` on ``calendar`` (wall-clock without one)."""
    if calendar is None:
        return max(0.0, end - start)
    return calendar.open_seconds(start, end)


def build_calendar(
    name: str, timezone: str, weekly: Mapping[str, Sequence[str]], holidays: Sequence[date | str] = ()
) -> Calendar:
    """A calendar from the policy file's words; raises ``ValueError`` saying what is wrong."""
    try:
        zone = ZoneInfo(timezone)
    except (ValueError, KeyError):
        raise ValueError(
            f"calendar {name}: unknown time zone '{timezone}' (use an IANA name such as Europe/Paris)"
        ) from None
    unknown = sorted(set(weekly) - set(WEEKDAYS))
    if unknown:
        raise ValueError(f"calendar {name}: unknown weekdays {unknown} (use {', '.join(WEEKDAYS)})")
    hours: dict[int, list[tuple[time, time | None]]] = {}
    for day_name, intervals in weekly.items():
        parsed = sorted((parse_interval(text) for text in intervals), key=lambda interval: interval[0])
        for (_, end), (start, _) in itertools.pairwise(parsed):
            if end is None or end > start:
                raise ValueError(f"calendar {name}: the open hours of {day_name} overlap")
        hours[WEEKDAYS.index(day_name)] = parsed
    days = frozenset(day if isinstance(day, date) else date.fromisoformat(day) for day in holidays)
    return Calendar(name, zone, hours, days)
