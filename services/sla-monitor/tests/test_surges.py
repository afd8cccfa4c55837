"""The surge detector on synthetic streams: a week with a daily rhythm, then a burst."""

import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime

from triage_schemas.enums import IssueType
from triage_schemas.policy import Campaign, SurgePolicy
from triage_sla_monitor.surges import Dimension, Signal, SurgeDetector, planned_by

MONDAY = 1_795_046_400.0  # 2026-11-16 00:00 UTC, a Monday
PLATFORMS = [("instagram", 0.5), ("x", 0.3), ("tiktok", 0.2)]
ISSUES = [
    (IssueType.FEEDBACK, "community", 0.4),
    (IssueType.ORDER_SHIPPING, "support", 0.3),
    (IssueType.PRODUCT_QUESTION, "community", 0.2),
    (IssueType.SALES_LEAD, "sales", 0.1),
]


def per_minute(at: float) -> float:
    """A daily rhythm: about 1 message a minute at 4 am, 9 at 4 pm."""
    hour = (at % 86_400) / 3_600
    return 5 - 4 * math.cos((hour - 4) / 24 * 2 * math.pi)


def stream(start: float, end: float, seed: int, boost: tuple[str, float, float, float] | None = None) -> Iterator[
    tuple[float, str, str, IssueType]
]:  # fmt: skip
    """(time, lane, platform, issue type) with Poisson arrivals; ``boost`` = (platform,
    factor, from, to) multiplies one platform's rate for a while."""
    rng = random.Random(seed)
    at = start
    while at < end:
        rates = {name: share * per_minute(at) / 60 for name, share in PLATFORMS}
        if boost is not None and boost[2] <= at < boost[3]:
            rates[boost[0]] *= boost[1]
        total = sum(rates.values())
        at += rng.expovariate(total)
        platform = rng.choices([p for p in rates], weights=list(rates.values()))[0]
        issue, lane, _ = rng.choices(ISSUES, weights=[w for _, _, w in ISSUES])[0]
        yield at, lane, platform, issue


def run(detector: SurgeDetector, events: Iterator[tuple[float, str, str, IssueType]]) -> list[Signal]:
    signals: list[Signal] = []
    for at, lane, platform, issue in events:
        signals.extend(detector.observe(at, lane, platform, issue, negative=False))
    return signals


WEEK = 7 * 86_400.0
BURST_FROM = MONDAY + WEEK + 14 * 3_600  # the second Monday, 2 pm
BURST_TO = BURST_FROM + 15 * 60


def test_a_steady_week_with_a_daily_rhythm_raises_nothing() -> None:
    detector = SurgeDetector(SurgePolicy())
    assert run(detector, stream(MONDAY, MONDAY + WEEK + 86_400, seed=1)) == []


def test_a_burst_on_one_platform_raises_one_surge_naming_it_and_one_resolution() -> None:
    detector = SurgeDetector(SurgePolicy())
    assert run(detector, stream(MONDAY, BURST_FROM - 3_600, seed=2)) == []
    signals = run(detector, stream(BURST_FROM - 3_600, BURST_FROM + 3 * 3_600, seed=3,
                                   boost=("x", 5.0, BURST_FROM, BURST_TO)))  # fmt: skip
    kinds = [(s.kind, s.dimension) for s in signals]
    assert kinds == [("surge", ("platform", "x")), ("surge_resolved", ("platform", "x"))]
    surge, resolved = signals
    assert surge.at - BURST_FROM <= SurgePolicy().window  # noticed within one window
    assert surge.count >= 3 * surge.expected and surge.top  # what drives it, by issue type
    assert BURST_TO <= resolved.at <= BURST_TO + 2 * SurgePolicy().window


def test_a_planned_campaign_with_the_same_burst_raises_nothing() -> None:
    def launch(dimension: Dimension, at: float) -> float:
        return 5.0 if dimension == ("platform", "x") and BURST_FROM <= at < BURST_TO else 1.0

    detector = SurgeDetector(SurgePolicy(), planned=launch)
    run(detector, stream(MONDAY, BURST_FROM - 3_600, seed=2))
    signals = run(detector, stream(BURST_FROM - 3_600, BURST_FROM + 3 * 3_600, seed=3,
                                   boost=("x", 5.0, BURST_FROM, BURST_TO)))  # fmt: skip
    assert signals == []


def test_five_safety_threats_within_ten_minutes_raise_one_p1_cluster() -> None:
    detector = SurgeDetector(SurgePolicy())
    minutes = [0, 2, 3, 7, 9, 9.5, 11]  # the fifth lands at 9 minutes; more in the same cluster say nothing
    signals = [
        s
        for m in minutes
        for s in detector.observe(MONDAY + m * 60, "risk", "x", IssueType.SAFETY_THREAT, negative=True)
    ]
    assert [(s.kind, s.dimension, s.count) for s in signals] == [("p1_cluster", ("issue_type", "safety_threat"), 5)]
    assert signals[0].at == MONDAY + 9 * 60


def test_four_safety_threats_spread_over_an_hour_are_no_cluster() -> None:
    detector = SurgeDetector(SurgePolicy())
    signals = [
        s
        for m in (0, 15, 30, 45, 60)
        for s in detector.observe(MONDAY + m * 60, "risk", "x", IssueType.SAFETY_THREAT, True)
    ]
    assert signals == []


def test_a_lane_turning_negative_is_reported_once() -> None:
    detector = SurgeDetector(SurgePolicy())
    rng = random.Random(5)
    signals: list[Signal] = []
    for minute in range(24 * 60):
        at = MONDAY + minute * 60
        angry = minute >= 20 * 60  # from 8 pm, most support messages are angry
        for _ in range(8):
            negative = rng.random() < (0.8 if angry else 0.1)
            signals.extend(detector.observe(at, "support", "x", IssueType.ORDER_SHIPPING, negative))
    reported = [(s.kind, s.dimension) for s in signals if s.kind == "negative_share"]
    assert reported == [("negative_share", ("lane", "support"))]
    assert next(s for s in signals if s.kind == "negative_share").at >= MONDAY + 20 * 3_600


def test_a_campaign_in_the_policy_discounts_its_planned_volume() -> None:
    launch = Campaign(
        name="launch", start=datetime.fromtimestamp(BURST_FROM, UTC), end=datetime.fromtimestamp(BURST_TO, UTC),
        platforms=["x"], expected_volume=5,
    )  # fmt: skip
    detector = SurgeDetector(SurgePolicy(), planned=planned_by([launch]))
    run(detector, stream(MONDAY, BURST_FROM - 3_600, seed=2))
    signals = run(detector, stream(BURST_FROM - 3_600, BURST_FROM + 3 * 3_600, seed=3,
                                   boost=("x", 5.0, BURST_FROM, BURST_TO)))  # fmt: skip
    assert signals == []
    assert planned_by([launch])(("platform", "tiktok"), BURST_FROM) == 1.0  # not a platform it names
    assert planned_by([launch])(("platform", "x"), BURST_TO) == 1.0  # over at its end
