"""Prometheus metrics and the rolling figures behind them. Labels are lane, priority,
platform and kind only: bounded sets, never a conversation or author id."""

import statistics
from collections import defaultdict, deque

from prometheus_client import REGISTRY, Counter, Gauge, Histogram

from triage_schemas.enums import ActorKind, Lane, Priority, ResponseKind
from triage_sla_monitor.clock import Alert, Answered, ClockStore, Resolved

# minutes to days; the default of TRIAGE_SLA_MONITOR_HISTOGRAM_BUCKETS_SECONDS
BUCKETS = (60, 300, 900, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 172800, 604800)

_histograms: dict[str, tuple[tuple[float, ...], Histogram]] = {}


def _histogram(name: str, documentation: str, buckets: tuple[float, ...]) -> Histogram:
    """One histogram per name in the process registry, with the configured buckets."""
    known = _histograms.get(name)
    if known is not None and known[0] == buckets:
        return known[1]
    if known is not None:
        REGISTRY.unregister(known[1])
    histogram = Histogram(name, documentation, ["lane", "priority", "platform"], buckets=buckets)
    _histograms[name] = (buckets, histogram)
    return histogram


ALERTS = Counter("triage_sla_alerts_total", "SLA alerts fired", ["kind", "lane", "priority"])
OPEN = Gauge("triage_sla_open_conversations", "Conversations not resolved", ["lane"])
UNANSWERED = Gauge("triage_sla_unanswered_conversations", "Conversations waiting for a first reply", ["lane"])
OLDEST = Gauge(
    "triage_sla_oldest_unanswered_age_seconds", "Counted age of the oldest unanswered conversation", ["lane"]
)
DM_FAST_SHARE = Gauge(
    "triage_sla_dm_answered_within_share", "Share of direct messages answered within the badge window, last 7 days"
)
OVERDUE = Gauge(
    "triage_sla_overdue_conversations",
    "Conversations still waiting for a first reply past their target (paused time not counted)",
    ["lane", "priority"],
)
WAIT = Gauge("triage_sla_estimated_wait_seconds", "Median of recent first responses", ["lane"])
REPLIES = Counter(
    "triage_sla_replies_total",
    "Brand replies seen, by who sent them: only human replies stop a clock or count toward the badge share",
    ["lane", "actor_kind"],
)
LANES = [lane.value for lane in Lane]
PRIORITIES = [priority.value for priority in Priority]

DAY = 86_400.0


class Figures:
    """Recent first responses per lane, per platform and per lane and platform (for the wait
    estimate and the public banner) and hourly DM buckets (for the badge). Each sample keeps
    the last ``recent`` first responses; lanes and platforms are enums, so memory is bounded."""

    def __init__(
        self, recent: int, dm_window_seconds: float, dm_days: int = 7, buckets: tuple[float, ...] = BUCKETS
    ) -> None:
        self.first_response = _histogram(
            "triage_sla_first_response_seconds", "Time to the first human agent reply (counted in open hours)", buckets
        )
        self.next_response = _histogram(
            "triage_sla_next_response_seconds",
            "Time to a human reply to a customer who wrote again after an agent replied (counted in open hours)",
            buckets,
        )
        self.resolution = _histogram(
            "triage_sla_resolution_seconds", "Time from first customer message to resolution", buckets
        )
        self.recent: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=recent))
        self.recent_by_platform: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=recent))
        self.recent_by_lane_platform: dict[tuple[str, str], deque[float]] = defaultdict(lambda: deque(maxlen=recent))
        self.dm_window = dm_window_seconds
        self.dm_days = dm_days
        self.dm_hours: dict[int, list[int]] = {}

    def reply(self, lane: str, actor_kind: ActorKind) -> None:
        REPLIES.labels(lane, actor_kind.value).inc()

    def answered(self, outcome: Answered, now: float) -> None:
        s = outcome.subject
        if outcome.response is ResponseKind.NEXT:
            self.next_response.labels(s.lane, s.priority, s.platform).observe(outcome.first_response_seconds)
            return
        self.first_response.labels(s.lane, s.priority, s.platform).observe(outcome.first_response_seconds)
        self.recent[s.lane].append(outcome.first_response_seconds)
        self.recent_by_platform[s.platform].append(outcome.first_response_seconds)
        self.recent_by_lane_platform[s.lane, s.platform].append(outcome.first_response_seconds)
        if s.channel == "direct_message":
            bucket = self.dm_hours.setdefault(int(now // 3600), [0, 0])
            bucket[0] += 1
            bucket[1] += outcome.first_response_seconds <= self.dm_window

    def resolved(self, outcome: Resolved) -> None:
        s = outcome.subject
        self.resolution.labels(s.lane, s.priority, s.platform).observe(outcome.resolution_seconds)

    def alert(self, alert: Alert) -> None:
        ALERTS.labels(alert.kind.value, alert.subject.lane, alert.subject.priority).inc()

    def wait_times(self) -> dict[str, float]:
        return {lane: statistics.median(values) for lane, values in sorted(self.recent.items()) if values}

    def refresh(self, store: ClockStore, now: float) -> None:
        """Recompute the gauges; a full scan, so the caller runs it every few seconds, not per record."""
        open_: dict[str, int] = defaultdict(int)
        waiting: dict[str, int] = defaultdict(int)
        oldest: dict[str, float] = defaultdict(float)
        overdue: dict[tuple[str, str], int] = defaultdict(int)
        for clock in store.clocks.values():
            if clock.subject is None or clock.resolved_at is not None:
                continue
            lane = clock.subject.lane
            open_[lane] += 1
            if clock.running():
                waiting[lane] += 1
                elapsed = store.elapsed(clock, now)
                oldest[lane] = max(oldest[lane], elapsed)
                overdue[lane, clock.subject.priority] += elapsed >= clock.target()
        for lane in LANES:
            for priority in PRIORITIES:
                OVERDUE.labels(lane, priority).set(overdue[lane, priority])
            OPEN.labels(lane).set(open_[lane])
            UNANSWERED.labels(lane).set(waiting[lane])
            OLDEST.labels(lane).set(oldest[lane])
        for lane, value in self.wait_times().items():
            WAIT.labels(lane).set(value)
        horizon = int((now - self.dm_days * DAY) // 3600)
        for hour in [h for h in self.dm_hours if h < horizon]:
            del self.dm_hours[hour]
        total = sum(b[0] for b in self.dm_hours.values())
        fast = sum(b[1] for b in self.dm_hours.values())
        DM_FAST_SHARE.set(fast / total if total else 0.0)
