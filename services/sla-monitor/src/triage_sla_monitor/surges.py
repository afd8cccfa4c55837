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

Everything known about one dimension is one ``Watch``, so the live monitor can keep
each dimension on the replica that counts it and write it to its state topic as one
value (see ``surge_watch``); ``seen`` there remembers which inputs a watch has counted,
so a redelivered input is not counted twice.
"""

import math
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from triage_schemas.enums import IssueType, SurgeKind
from triage_schemas.policy import Campaign, SurgePolicy

Dimension = tuple[str, str]  # ("platform", "instagram"), ("lane", "support"), ...
Planned = Callable[[Dimension, float], float]  # expected-volume multiplier at a moment
HOUR, DAY, WEEK = 3_600, 86_400, 604_800
SIGMAS = 5.0  # and beyond chance: a rare noisy window on a small count is not a surge


def no_campaign(_: Dimension, __: float) -> float:
    return 1.0


def campaigns_for(campaigns: Sequence[Campaign], dimension: Dimension, at: float) -> list[Campaign]:
    """The active campaigns that touch a dimension: a lane or platform counts the campaigns
    that name it or every one of its kind (a campaign on one platform raises every lane's
    volume a little: better a missed small surge than a planned launch reported); an issue
    type counts only campaigns on every lane and platform."""
    kind, value = dimension
    return [
        campaign
        for campaign in campaigns
        if campaign.active(at)
        and (
            (kind == "lane" and (campaign.lanes is None or value in campaign.lanes))
            or (kind == "platform" and (campaign.platforms is None or value in campaign.platforms))
            or (kind == "issue_type" and campaign.lanes is None and campaign.platforms is None)
        )
    ]


def planned_by(campaigns: Sequence[Campaign]) -> Planned:
    """Expected-volume multipliers of the policy's campaigns (see ``campaigns_for``)."""

    def planned(dimension: Dimension, at: float) -> float:
        return math.prod(campaign.expected_volume for campaign in campaigns_for(campaigns, dimension, at))

    return planned


@dataclass(frozen=True)
class Signal:
    """What the detector reports; the monitor turns these into alerts."""

    kind: SurgeKind
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
class Window:
    start: float
    count: int = 0
    negative: int = 0
    issue_types: Counter[str] = field(default_factory=Counter)
    # what the baseline expects for this window: it changes only when a window closes
    expected: float | None = field(default=None, compare=False, repr=False)
    expected_known: bool = field(default=False, compare=False, repr=False)


@dataclass
class Watch:
    """Everything known about one dimension: its baselines, its open window, whether it
    is surging or negative, its recent P1 messages (issue types), and what it counted."""

    baseline: Baseline = field(default_factory=Baseline)
    negative_baseline: Baseline = field(default_factory=Baseline)
    windows: dict[float, Window] = field(default_factory=dict)  # open, by start: inputs arrive a little out of order
    closed_until: float = -math.inf  # a late input counts in the first open window, never a closed one
    surging: bool = False
    negative: bool = False
    recent_p1: deque[float] = field(default_factory=deque)
    clustered: bool = False
    seen: dict[int, int] = field(default_factory=dict)  # input partition -> last offset counted


@dataclass
class SurgeDetector:
    rules: SurgePolicy
    planned: Planned = no_campaign
    watches: dict[Dimension, Watch] = field(default_factory=dict)
    touched: set[Dimension] = field(default_factory=set)
    """Dimensions changed since the caller last cleared it (what the live monitor writes)."""

    def observe(self, at: float, lane: str, platform: str, issue_type: IssueType, negative: bool) -> list[Signal]:
        """One inbound message; the signals it (or the windows it closes) raises."""
        signals = self.advance(at)
        for dimension in (("lane", lane), ("platform", platform), ("issue_type", str(issue_type))):
            signals.extend(self.count(dimension, at, issue_type, negative))
        return signals

    def count(self, dimension: Dimension, at: float, issue_type: IssueType | str, negative: bool) -> list[Signal]:
        """One inbound message in one dimension, in the window of its time (or, late for a
        closed one, in the first window still open)."""
        watch = self.watches.setdefault(dimension, Watch())
        self.touched.add(dimension)
        window = self._window(watch, at)
        window.count += 1
        window.negative += int(negative)
        window.issue_types[str(issue_type)] += 1
        signals = self._check_volume(dimension, watch, window, at)
        if dimension[0] == "lane":
            signals.extend(self._check_negative(dimension, watch, window, at))
        if dimension[0] == "issue_type":
            signals.extend(self._check_cluster(dimension, watch, at))
        return signals

    def advance(self, now: float, dimensions: Iterable[Dimension] | None = None) -> list[Signal]:
        """Close every window that ended by ``now`` (of ``dimensions``, default all), oldest
        first: learn it, end surges that passed."""
        signals: list[Signal] = []
        window_length = self.rules.window
        for dimension in self.watches if dimensions is None else dimensions:
            watch = self.watches[dimension]
            for start in sorted(watch.windows):
                if now < start + window_length:
                    break
                signals.extend(self._close(dimension, watch, watch.windows.pop(start), now))
                watch.closed_until = start + window_length
                self.touched.add(dimension)
        return signals

    def expected(self, dimension: Dimension, start: float) -> float | None:
        """What the dimension usually sees in the window starting then; None while learning."""
        watch = self.watches.get(dimension)
        if watch is None or watch.baseline.windows < self.rules.warmup_windows:
            return None
        expected = watch.baseline.expected(start, self.rules.floor)
        return None if expected is None else expected * self.planned(dimension, start)

    # --- volume ---------------------------------------------------------------------

    def _window(self, watch: Watch, at: float) -> Window:
        start = max(at - at % self.rules.window, watch.closed_until)
        window = watch.windows.get(start)
        if window is None:
            window = watch.windows[start] = Window(start)
        return window

    def _check_volume(self, dimension: Dimension, watch: Watch, window: Window, at: float) -> list[Signal]:
        if watch.surging:
            return []
        if not window.expected_known:  # once per window, not per message
            window.expected, window.expected_known = self.expected(dimension, window.start), True
        expected = window.expected
        if expected is None or window.count < self.rules.min_count or window.count < self.rules.factor * expected:
            return []
        if window.count < expected + SIGMAS * math.sqrt(expected):
            return []  # within what chance gives a small count (Poisson)
        watch.surging = True
        top = tuple(window.issue_types.most_common(3))
        return [Signal(SurgeKind.SURGE, dimension, window.count, expected, window.start, at, top)]

    def _close(self, dimension: Dimension, watch: Watch, window: Window, now: float) -> list[Signal]:
        signals: list[Signal] = []
        expected = self.expected(dimension, window.start)
        for later in watch.windows.values():
            later.expected_known = False  # learning this window changes what the others expect
        if watch.surging and (expected is None or window.count < self.rules.resolve_factor * expected):
            watch.surging = False
            signals.append(
                Signal(SurgeKind.SURGE_RESOLVED, dimension, window.count, expected or 0.0, window.start, now)
            )
        if watch.negative and dimension[0] == "lane":
            share = window.negative / window.count if window.count else 0.0
            if share < self.rules.negative_min_share:
                watch.negative = False
        # A surge is not what is normal: it is learned only up to the threshold.
        ceiling = self.rules.factor * expected if expected is not None else float(window.count)
        watch.baseline.learn(window.start, min(float(window.count), ceiling), self.rules.smoothing)
        if dimension[0] == "lane" and window.count:
            watch.negative_baseline.learn(window.start, window.negative / window.count, self.rules.smoothing)
        return signals

    # --- a lane turning negative -------------------------------------------------------------

    def _check_negative(self, dimension: Dimension, watch: Watch, window: Window, at: float) -> list[Signal]:
        if watch.negative or window.count < self.rules.negative_min_messages:
            return []
        shares = watch.negative_baseline
        if shares.windows < self.rules.warmup_windows or shares.overall is None:
            return []
        usual = shares.overall
        share = window.negative / window.count
        if share < self.rules.negative_min_share or share < self.rules.negative_factor * usual:
            return []
        spread = math.sqrt(window.count * usual * (1 - usual))
        if window.negative < window.count * usual + SIGMAS * spread:
            return []  # within what chance gives a window this size (binomial)
        watch.negative = True
        return [Signal(SurgeKind.NEGATIVE_SHARE, dimension, window.negative, usual * window.count, window.start, at)]

    # --- P1 clusters ---------------------------------------------------------------------

    def _check_cluster(self, dimension: Dimension, watch: Watch, at: float) -> list[Signal]:
        if dimension[1] not in self.rules.cluster_issue_types:  # StrEnum members equal their strings
            return []
        times = watch.recent_p1
        times.append(at)
        while times and at - times[0] > self.rules.cluster_within:
            times.popleft()
        if len(times) == 1:
            watch.clustered = False  # a quiet spell: the last cluster has passed
        if len(times) < self.rules.cluster_count or watch.clustered:
            return []
        watch.clustered = True
        return [Signal(SurgeKind.P1_CLUSTER, dimension, len(times), 0.0, times[0], at)]
