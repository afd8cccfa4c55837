"""The clock sections of the routing policy file (``calendars:`` and ``sla:``), shared by
the router (which stamps deadlines) and the SLA monitor (which runs the clocks, live and
in replay), so both read the same targets, fractions and open hours from one file.

```yaml
calendars:              # a team's open hours; a team without one works around the clock
  paris-office:
    timezone: Europe/Paris
    weekly: {mon: ["09:00-18:00"], tue: ["09:00-18:00"], wed: ["09:00-18:00"],
             thu: ["09:00-18:00"], fri: ["09:00-17:00"]}
    holidays: ["2026-12-25", "2027-01-01"]
sla:
  targets:              # first-response target per issue type; null = no clock
    account_compromise: 15m
    spam: null
  fallback:             # per lane and priority, for an issue type without a target
    support: {P1: 15m, P2: 1h, P3: 4h}
  alerts: {warning: 0.8, breach: 1.0, escalation: 2.0}   # fractions of the target
  around_the_clock: [P1]          # priorities counted in wall time, whatever the calendar
  next_response: {targets: {}, fallback: {}}   # default: the first-response target
  resolution: {targets: {payment_issue: 2d}, fallback: {support: {P1: 1d}}}   # none: no clock
  follow_up_after: 48h            # brand replied last, customer quiet: one reminder
  reply_windows:                  # platforms that stop the brand answering after a while
    margin: 1h
    windows: {messenger: {direct_message: 24h}, instagram: {direct_message: 24h},
              whatsapp: {direct_message: 24h}}
```
Durations are whole seconds or strings such as ``90s``, ``15m``, ``2h``, ``1h30m``, ``1d``.
"""

import re
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, model_validator

from triage_schemas.business_time import Calendar, build_calendar
from triage_schemas.enums import Channel, IssueType, Lane, Platform, Priority, Severity, SurgeKind

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s)")
_UNIT_SECONDS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}


def parse_duration(value: object) -> object:
    """``"1h30m"`` -> 5400; numbers pass through; anything else is left for pydantic to reject."""
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if text.isdigit():
            return int(text)
        parts = _DURATION.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise ValueError(f"'{value}' is not a duration (use seconds, or e.g. 90s, 15m, 2h, 1h30m, 1d)")
        return round(sum(float(n) * _UNIT_SECONDS[u] for n, u in parts))
    return value


Seconds = Annotated[int, BeforeValidator(parse_duration), Field(ge=1)]
"""A positive duration in whole seconds."""


class AlertFractions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    warning: float = Field(default=0.8, gt=0, description="warning alert at this fraction of the target")
    breach: float = Field(default=1.0, gt=0, description="breach alert at this fraction of the target")
    escalation: float = Field(default=2.0, gt=0, description="tier-2 escalation at this fraction of the target")

    @model_validator(mode="after")
    def _ordered(self) -> "AlertFractions":
        if not self.warning < self.breach < self.escalation:
            raise ValueError("alert fractions must rise: warning < breach < escalation")
        return self


class ResponseTargets(BaseModel):
    """Targets per issue type, with a per-lane-and-priority fallback (like first response)."""

    model_config = ConfigDict(extra="forbid")

    targets: dict[IssueType, Seconds | None] = Field(default_factory=dict)
    fallback: dict[Lane, dict[Priority, Seconds]] = Field(default_factory=dict)

    def lookup(self, issue_type: IssueType, lane: Lane, priority: Priority) -> tuple[bool, int | None]:
        """(found, target): ``found`` False means this set says nothing about the message."""
        if issue_type in self.targets:
            return True, self.targets[issue_type]
        target = self.fallback.get(lane, {}).get(priority)
        return target is not None, target


def _default_windows() -> dict[Platform, dict[Channel, int]]:
    day = 86_400  # Meta's standard messaging window, for Messenger, Instagram and WhatsApp
    return {
        Platform.MESSENGER: {Channel.DIRECT_MESSAGE: day},
        Platform.INSTAGRAM: {Channel.DIRECT_MESSAGE: day},
        Platform.WHATSAPP: {Channel.DIRECT_MESSAGE: day},
    }


class ReplyWindows(BaseModel):
    """How long after a customer's message a platform lets the brand answer it."""

    model_config = ConfigDict(extra="forbid")

    margin: Seconds = Field(default=3600, description="answers are due this long before the window closes")
    windows: dict[Platform, dict[Channel, Seconds]] = Field(default_factory=_default_windows)

    def closes_at(self, platform: Platform, channel: Channel, customer_wrote_at: datetime) -> datetime | None:
        seconds = self.windows.get(platform, {}).get(channel)
        return None if seconds is None else customer_wrote_at + timedelta(seconds=seconds)


class SurgePolicy(BaseModel):
    """When the inbox turns: volume per lane, platform and issue type in short windows
    against a baseline the SLA monitor learns from the stream (``sla.surges``)."""

    model_config = ConfigDict(extra="forbid")

    window: Seconds = Field(default=300, description="length of one counting window")
    factor: float = Field(default=3.0, gt=1, description="a window this many times its expected count is a surge")
    min_count: int = Field(default=30, ge=1, description="and at least this many messages")
    resolve_factor: float = Field(default=1.5, gt=0, description="a surge ends at a window below this times expected")
    floor: float = Field(default=5.0, gt=0, description="the least expected count: a quiet night is not a surge")
    smoothing: float = Field(default=0.2, gt=0, le=1, description="weight of the newest window in the baseline")
    warmup_windows: int = Field(default=12, ge=1, description="windows a dimension is watched before it can surge")
    negative_factor: float = Field(default=2.0, gt=1, description="a lane's negative share this many times usual")
    negative_min_share: float = Field(default=0.4, ge=0, le=1, description="and at least this share")
    negative_min_messages: int = Field(default=20, ge=1, description="in a window of at least this many messages")
    cluster_issue_types: list[IssueType] = Field(
        default_factory=lambda: [IssueType.SAFETY_THREAT, IssueType.ACCOUNT_COMPROMISE],
        description="issue types whose cluster is how a recall or an account breach first shows",
    )
    cluster_count: int = Field(default=5, ge=2, description="this many of one such issue type ...")
    cluster_within: Seconds = Field(default=600, description="... within this long is a P1 cluster")
    severity: dict[SurgeKind, Severity] = Field(
        default_factory=lambda: {
            SurgeKind.SURGE: Severity.CRITICAL,
            SurgeKind.SURGE_RESOLVED: Severity.INFO,
            SurgeKind.NEGATIVE_SHARE: Severity.WARNING,
            SurgeKind.P1_CLUSTER: Severity.CRITICAL,
        },
        description="how loudly each kind is told (critical pages through Alertmanager)",
    )

    def severity_of(self, kind: SurgeKind) -> Severity:
        return self.severity.get(kind, Severity.WARNING)


class Campaign(BaseModel):
    """A planned busy time (a launch, a sale): faster targets, expected volume, a pinned FAQ."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    start: AwareDatetime
    end: AwareDatetime
    lanes: list[Lane] | None = Field(default=None, description="lanes it affects; none = all")
    platforms: list[Platform] | None = Field(default=None, description="platforms it affects; none = all")
    target_multiplier: float = Field(default=1.0, gt=0, le=10, description="0.5 = answer twice as fast")
    expected_volume: float = Field(default=1.0, gt=0, description="planned volume: 3 = three times the usual")
    template: str | None = Field(default=None, description="pinned-FAQ template the router proposes meanwhile")

    @model_validator(mode="after")
    def _ends_after_start(self) -> "Campaign":
        if self.end <= self.start:
            raise ValueError(f"campaign {self.name}: end must be after start")
        return self

    def active(self, at: float) -> bool:
        return self.start.timestamp() <= at < self.end.timestamp()

    def covers(self, at: float, lane: Lane | str, platform: Platform | str) -> bool:
        return (
            self.active(at)
            and (self.lanes is None or lane in self.lanes)
            and (self.platforms is None or platform in self.platforms)
        )


class SlaPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    targets: dict[IssueType, Seconds | None] = Field(default_factory=dict)
    fallback: dict[Lane, dict[Priority, Seconds]] = Field(default_factory=dict)
    alerts: AlertFractions = Field(default_factory=AlertFractions)
    around_the_clock: list[Priority] = Field(
        default_factory=lambda: [Priority.P1],
        description="priorities whose targets count wall time, whatever the team's calendar (the on-call path)",
    )
    next_response: ResponseTargets = Field(default_factory=ResponseTargets)
    resolution: ResponseTargets = Field(default_factory=ResponseTargets)
    follow_up_after: Seconds | None = Field(default=172_800, description="null: no follow-up reminders")
    reply_windows: ReplyWindows = Field(default_factory=ReplyWindows)
    surges: SurgePolicy = Field(default_factory=SurgePolicy)
    campaigns: list[Campaign] = Field(default_factory=list, description="planned busy times")

    def campaign_at(self, at: float, lane: Lane, platform: Platform) -> Campaign | None:
        """The first listed campaign covering a message received then, on that lane and platform."""
        return next((c for c in self.campaigns if c.covers(at, lane, platform)), None)

    def target_seconds(self, issue_type: IssueType, lane: Lane, priority: Priority) -> int | None:
        """The first-response target, or None when no clock runs (a null target)."""
        if issue_type in self.targets:
            return self.targets[issue_type]
        return self.fallback.get(lane, {}).get(priority)

    def next_response_seconds(self, issue_type: IssueType, lane: Lane, priority: Priority) -> int | None:
        """The next-response target; the first-response one where none is set."""
        found, target = self.next_response.lookup(issue_type, lane, priority)
        return target if found else self.target_seconds(issue_type, lane, priority)

    def resolution_seconds(self, issue_type: IssueType, lane: Lane, priority: Priority) -> int | None:
        """The resolution target, or None when resolution has no clock for this message."""
        return self.resolution.lookup(issue_type, lane, priority)[1]

    def counts_wall_time(self, priority: Priority) -> bool:
        return priority in self.around_the_clock


class CalendarSpec(BaseModel):
    """One calendar as a care lead writes it; validated by building it."""

    model_config = ConfigDict(extra="forbid")

    timezone: str
    weekly: dict[str, list[str]]
    holidays: list[date] = Field(default_factory=list)

    def build(self, name: str) -> Calendar:
        return build_calendar(name, self.timezone, self.weekly, self.holidays)


def build_calendars(specs: dict[str, CalendarSpec]) -> dict[str, Calendar]:
    return {name: spec.build(name) for name, spec in specs.items()}


class ClockPolicy(BaseModel):
    """The parts of the routing policy file the SLA monitor runs on."""

    model_config = ConfigDict(extra="ignore")  # the router's sections are not the monitor's business

    version: str | None = None
    calendars: dict[str, CalendarSpec] = Field(default_factory=dict)
    sla: SlaPolicy = Field(default_factory=SlaPolicy)
    _built: dict[str, Calendar] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _calendars_build(self) -> "ClockPolicy":
        errors = []
        for name, spec in self.calendars.items():
            try:
                self._built[name] = spec.build(name)
            except ValueError as error:
                errors.append(str(error))
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def calendar(self, name: str | None) -> Calendar | None:
        """The named calendar; None (around the clock) for no name or an unknown one."""
        return self._built.get(name) if name else None


def clock_policy(data: Any) -> ClockPolicy:
    """The clock sections of a parsed policy file."""
    return ClockPolicy.model_validate(data if isinstance(data, dict) else {})
