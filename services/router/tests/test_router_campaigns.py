"""Campaign windows: a planned launch answers faster and proposes its pinned FAQ."""

from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from tests.factories import classified
from triage_router.policy import DEFAULT_POLICY, PolicyError, RoutingPolicy, parse_policy
from triage_router.routing import route

LAUNCH = {
    "name": "spring-launch", "start": "2026-11-22T08:00:00Z", "end": "2026-11-22T20:00:00Z",
    "lanes": ["support"], "platforms": ["instagram", "tiktok"], "target_multiplier": 0.5,
    "expected_volume": 4, "template": "order-status",
}  # fmt: skip


def policy_with(*campaigns: dict[str, Any]) -> RoutingPolicy:
    data = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))
    data["sla"]["campaigns"] = list(campaigns)
    return parse_policy(data)


def order(at: str, platform: str = "instagram") -> Any:
    received = datetime.fromisoformat(at)
    return classified("order_shipping", platform=platform, received_at=received, created_at=received)


def test_during_a_campaign_the_target_shrinks_and_the_pinned_faq_is_proposed() -> None:
    normal = route(order("2026-11-22T12:00:00+00:00"), policy_with()).routing
    launch = route(order("2026-11-22T12:00:00+00:00"), policy_with(LAUNCH)).routing
    assert normal.first_response_target_seconds is not None
    assert launch.first_response_target_seconds == normal.first_response_target_seconds // 2
    assert launch.first_response_due_at is not None and normal.first_response_due_at is not None
    assert launch.first_response_due_at < normal.first_response_due_at
    assert (launch.campaign, launch.template_id) == ("spring-launch", "order-status")
    assert "campaign spring-launch: targets x0.5" in launch.reasons
    assert normal.campaign is None


@pytest.mark.parametrize(
    ("at", "platform"),
    [
        ("2026-11-22T07:59:59+00:00", "instagram"),  # before it starts
        ("2026-11-22T20:00:00+00:00", "instagram"),  # at its end
        ("2026-11-22T12:00:00+00:00", "x"),  # another platform
    ],
)
def test_outside_its_window_or_platforms_a_campaign_changes_nothing(at: str, platform: str) -> None:
    with_launch = route(order(at, platform), policy_with(LAUNCH)).routing
    without = route(order(at, platform), policy_with()).routing
    assert with_launch.campaign is None
    assert with_launch.first_response_target_seconds == without.first_response_target_seconds


def test_a_campaign_on_another_lane_changes_nothing() -> None:
    message = classified("sales_lead", platform="instagram", received_at=datetime(2026, 11, 22, 12, tzinfo=UTC))
    assert route(message, policy_with(LAUNCH)).routing.campaign is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"end": "2026-11-22T07:00:00Z"}, "end must be after start"),
        ({"template": "no-such-faq"}, "sla.campaigns.0.template: 'no-such-faq' is not under templates"),
        ({"target_multiplier": 0}, "target_multiplier"),
    ],
)
def test_a_broken_campaign_is_refused_with_where_and_why(change: dict[str, Any], expected: str) -> None:
    with pytest.raises(PolicyError, match=expected.replace(".", r"\.").replace("'", "'")):
        policy_with({**LAUNCH, **change})
