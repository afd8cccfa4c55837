"""No text can make the keyword triggers slow: every trigger set of the shipped policies
is one RE2 scan, linear in the text, up to the longest text the router scans."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.factories import classified, lane_and_priority
from tests.pattern_timing import BOUND_SECONDS, fill, timed
from triage_router.policy import DEFAULT_POLICY, DEMO_POLICY, RoutingPolicy, load_policy
from triage_router.routing import fired_triggers


def adversarial_texts(policy: RoutingPolicy) -> Iterator[tuple[str, str]]:
    """Texts as long as the router scans, built from the policy's own keywords: every
    keyword repeated, its prefixes, its words with the last one missing or cut short,
    and long runs of one character class."""
    length = policy.keyword_scan_chars
    keywords = sorted({k for t in policy.triggers for k in t.when.keywords or []})
    for keyword in keywords:
        words = re.findall(r"\w+", keyword)
        yield f"{keyword!r} repeated", fill(keyword + " ", length)
        yield f"{keyword!r} prefixes", fill(keyword[:-1] + " ", length)
        yield f"{keyword!r} glued", fill(words[0], length)
        yield f"{keyword!r} near-misses", fill(" ".join([*words[:-1], words[-1][:-1] + "x"]) + " ", length)
    for unit in (" ", "a", "é", "1", "-", "a ", "e\u0301", "😍", "ﬁ", "_"):
        yield f"{unit!r} run", fill(unit, length)


@pytest.mark.parametrize("path", [DEFAULT_POLICY, DEMO_POLICY], ids=["default", "demo"])
def test_every_keyword_trigger_stays_fast_on_adversarial_text(path: Path) -> None:
    policy = load_policy(path)
    # One message per lane, so every keyword trigger is tried on every text.
    by_lane = {lane: issue_type for issue_type, (lane, _) in lane_and_priority().items() if issue_type != "spam"}
    worst, worst_name, count = 0.0, "", 0
    for name, text in adversarial_texts(policy):
        for issue_type in by_lane.values():
            message = classified(issue_type, text=text)
            elapsed = timed(lambda _: fired_triggers(message, policy), text)  # noqa: B023 - called at once
            count += 1
            if elapsed > worst:
                worst, worst_name = elapsed, f"{name}, {issue_type}"
    print(
        f"\nrouter keywords: worst of {count} adversarial {policy.keyword_scan_chars:,}-char texts: "
        f"{worst * 1000:.2f} ms ({worst_name})"
    )
    assert worst < BOUND_SECONDS, f"{worst_name} took {worst * 1000:.0f} ms"
