"""Noticing when the inbox turns: volume surges, a lane turning negative, P1 clusters.

Plain code with no Kafka in it, fed inbound routed messages in their own time. Volume
is counted per dimension (a lane, a platform, an issue type) in tumbling windows of
``sla.surges.window`` and compared with what that dimension usually sees at that hour:
an exponentially smoothed baseline per hour of the week, falling back to the hour of
the day and then to the dimension's overall level while the week is still being
learned, and never below ``floor`` (a quiet night is not a surge). A surge is raised as
soon as the running count crosses the threshold, at most once until it ends; it ends
at the first window below ``resolve_factor`` times the expected count. Planned volume
(a campaign) multiplies what is expected, so a launch is not reported as a surge.
"""

import math
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from triage_schemas.enums import IssueType
from triage_schemas.policy import Campaign, SurgePolicy

Dimension = tuple[str, str]  # ("platform", "instagram"), ("lane", "support"), ...
Planned = Callable[[Dimension, float], float]  # expected-volume multiplier at a moment
HOUR, DAY, WEEK = 3_600, 86_400, 604_800
SIGMAS = 5.0  # and beyond chance: a rare noisy window on a small count is not a surge


def no_campaign(_: Dimension, __: float) -> float:
    return 1.0


def planned_by(campaigns: Sequence[Campaign]) -> Planned:
    """Expected-volume multipliers of the policy's campaigns: a lane or platform counts the
    active campaigns that touch it (a campaign on one platform raises every lane's volume a
    little: better a missed small surge than a planned launch reported); an issue type
    counts only campaigns on every lane and platform."""

    def planned(dimension: Dimension, at: float) -> float:
        kind, value = dimension
        factor = 1.0
        for campaign in campaigns:
            if not campaign.active(at):
                continue
            if (
                (kind == "lane" and (campaign.lanes is None or value in campaign.lanes))
                or (kind == "platform" and (campaign.platforms is None or value in campaign.platforms))
                or (kind == "issue_type" and campaign.lanes is None and campaign.platforms is None)
            ):
                factor *= campaign.expected_volume
        return factor

    return planned


@dataclass(frozen=True)
class Signal:
    """What the detector reports; the monitor turns these into alerts."""

    kind: str  # surge, surge_resolved, negative_share, p1_cluster
    dimension: Dimension
    count: int
    expected: float
    window_start: float
    at: float
    top: tuple[tuple[str, int], ...] = ()


@dataclass
class Baseline:
    """Smoothed counts per window: per hour of week, per hour of day, overall."""

    by_week_hour: dict[int, float] = field(default_factory=dict)
    by_day_hour: dict[int, float] = field(default_factory=dict)
    overall: float | None = None
    windows: int = 0

    def expected(self, start: float, floor: float) -> float | None:
        level = self.by_week_hour.get(_week_hour(start))
        if level is None:
            level = self.by_day_hour.get(_day_hour(start), self.overall)
        return None if level is None else max(floor, level)

    def learn(self, start: float, count: float, weight: float) -> None:
        def smooth(old: float | None) -> float:
            # A slot seen for the first time starts from the overall level, not from one
            # noisy window.
            old = self.overall if old is None else old
            return count if old is None else weight * count + (1 - weight) * old

        self.by_week_hour[_week_hour(start)] = smooth(self.by_week_hour.get(_week_hour(start)))
        self.by_day_hour[_day_hour(start)] = smooth(self.by_day_hour.get(_day_hour(start)))
        self.overall = smooth(self.overall)
        self.windows += 1


def _week_hour(moment: float) -> int:
    return int(moment % WEEK // HOUR)


def _day_hour(moment: float) -> int:
    return int(moment % DAY // HOUR)


@dataclass
class _Window:
    start: float
    count: int = 0
    negative: int = 0
    issue_types: Counter[str] = field(default_factory=Counter)


@dataclass
class SurgeDetector:
    rules: SurgePolicy
    planned: Planned = no_campaign
    baselines: dict[Dimension, Baseline] = field(default_factory=dict)
    negative_baselines: dict[Dimension, Baseline] = field(default_factory=dict)
    windows: dict[Dimension, _Window] = field(default_factory=dict)
    surging: set[Dimension] = field(default_factory=set)
    negative: set[Dimension] = field(default_factory=set)
    recent_p1: dict[str, deque[float]] = field(default_factory=dict)
    clustered: set[str] = field(default_factory=set)

    def observe(self, at: float, lane: str, platform: str, issue_type: IssueType, negative: bool) -> list[Signal]:
        """One inbound message; the signals it (or the windows it closes) raises."""
        signals = self.advance(at)
        for dimension in (("lane", lane), ("platform", platform), ("issue_type", str(issue_type))):
            window = self._window(dimension, at)
            window.count += 1
            window.negative += int(negative)
            window.issue_types[str(issue_type)] += 1
            signals.extend(self._check_volume(dimension, window, at))
            if dimension[0] == "lane":
                signals.extend(self._check_negative(dimension, window, at))
        signals.extend(self._check_cluster(str(issue_type), at))
        return signals

    def advance(self, now: float) -> list[Signal]:
        """Close every window that ended before ``now``: learn it, end surges that passed."""
        signals: list[Signal] = []
        for dimension, window in list(self.windows.items()):
            if now >= window.start + self.rules.window:
                signals.extend(self._close(dimension, window, now))
                del self.windows[dimension]
        return signals

    # --- volume ---------------------------------------------------------------------

    def _window(self, dimension: Dimension, at: float) -> _Window:
        window = self.windows.get(dimension)
        if window is None:
            start = at - at % self.rules.window
            window = self.windows[dimension] = _Window(start)
        return window

    def _expected(self, dimension: Dimension, start: float) -> float | None:
        baseline = self.baselines.get(dimension)
        if baseline is None or baseline.windows < self.rules.warmup_windows:
            return None  # still learning what this dimension usually sees
        expected = baseline.expected(start, self.rules.floor)
        return None if expected is None else expected * self.planned(dimension, start)

    def _check_volume(self, dimension: Dimension, window: _Window, at: float) -> list[Signal]:
        if dimension in self.surging:
            return []
        expected = self._expected(dimension, window.start)
        if expected is None or window.count < self.rules.min_count or window.count < self.rules.factor * expected:
            return []
        if window.count < expected + SIGMAS * math.sqrt(expected):
            return []  # within what chance gives a small count (Poisson)
        self.surging.add(dimension)
        top = tuple(window.issue_types.most_common(3))
        return [Signal("surge", dimension, window.count, expected, window.start, at, top)]

    def _close(self, dimension: Dimension, window: _Window, now: float) -> list[Signal]:
        signals: list[Signal] = []
        expected = self._expected(dimension, window.start)
        if dimension in self.surging and (expected is None or window.count < self.rules.resolve_factor * expected):
            self.surging.discard(dimension)
            signals.append(Signal("surge_resolved", dimension, window.count, expected or 0.0, window.start, now))
        if dimension in self.negative and dimension[0] == "lane":
            share = window.negative / window.count if window.count else 0.0
            if share < self.rules.negative_min_share:
                self.negative.discard(dimension)
        baseline = self.baselines.setdefault(dimension, Baseline())
        # A surge is not what is normal: it is learned only up to the threshold.
        ceiling = self.rules.factor * expected if expected is not None else float(window.count)
        baseline.learn(window.start, min(float(window.count), ceiling), self.rules.smoothing)
        if dimension[0] == "lane" and window.count:
            shares = self.negative_baselines.setdefault(dimension, Baseline())
            shares.learn(window.start, window.negative / window.count, self.rules.smoothing)
        return signals

    # --- a lane turning negative -------------------------------------------------------------

    def _check_negative(self, dimension: Dimension, window: _Window, at: float) -> list[Signal]:
        if dimension in self.negative or window.count < self.rules.negative_min_messages:
            return []
        shares = self.negative_baselines.get(dimension)
        if shares is None or shares.windows < self.rules.warmup_windows or shares.overall is None:
            return []
        usual = shares.overall
        share = window.negative / window.count
        if share < self.rules.negative_min_share or share < self.rules.negative_factor * usual:
            return []
        spread = math.sqrt(window.count * usual * (1 - usual))
        if window.negative < window.count * usual + SIGMAS * spread:
            return []  # within what chance gives a window this size (binomial)
        self.negative.add(dimension)
        return [Signal("negative_share", dimension, window.negative, usual * window.count, window.start, at)]

    # --- P1 clusters ---------------------------------------------------------------------

    def _check_cluster(self, issue_type: str, at: float) -> list[Signal]:
        if issue_type not in self.rules.cluster_issue_types:  # StrEnum members equal their strings
            return []
        times = self.recent_p1.setdefault(issue_type, deque())
        times.append(at)
        while times and at - times[0] > self.rules.cluster_within:
            times.popleft()
        if len(times) == 1:
            self.clustered.discard(issue_type)  # a quiet spell: the last cluster has passed
        if len(times) < self.rules.cluster_count or issue_type in self.clustered:
            return []
        self.clustered.add(issue_type)
        return [Signal("p1_cluster", ("issue_type", issue_type), len(times), 0.0, times[0], at)]
