"""The review path: an uncertain classification reaches a person without delaying the reply."""

from typing import Any

import pytest
import yaml

from tests.factories import classified
from triage_router.policy import DEFAULT_POLICY, PolicyError, RoutingPolicy, parse_policy
from triage_router.routing import route


def policy(edit: Any = None) -> RoutingPolicy:
    data = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))
    if edit is not None:
        edit(data)
    return parse_policy(data)


def test_an_uncertain_message_goes_to_its_lanes_team_lead_and_keeps_its_owner_and_deadline() -> None:
    sure = route(classified("payment_issue"), policy()).routing
    unsure = route(
        classified("payment_issue", confidence=0.41, needs_review=True, review_reasons=["low_confidence"]), policy()
    ).routing
    assert (unsure.review, unsure.review_owner) == (True, "support-lead")
    assert "review: support-lead checks the classification (low_confidence)" in unsure.reasons
    # the owner answers as usual: the clock is not held back by the review
    assert (unsure.owner, unsure.tier, unsure.first_response_target_seconds) == (
        sure.owner, sure.tier, sure.first_response_target_seconds,
    )  # fmt: skip
    assert (sure.review, sure.review_owner) == (False, None)


@pytest.mark.parametrize(
    ("reasons", "lane", "reviewer"),
    [
        (["language_not_trained:de"], "community", "care-lead"),
        (["empty_text"], "community", "care-lead"),
        (["no_words"], "risk", "trust-safety-lead"),
    ],
)
def test_each_lane_has_its_reviewer(reasons: list[str], lane: str, reviewer: str) -> None:
    message = classified("feedback", lane=lane, needs_review=True, review_reasons=reasons)
    routing = route(message, policy()).routing
    assert (routing.review, routing.review_owner) == (True, reviewer)
    assert any(r.startswith(f"review: {reviewer}") and reasons[0] in r for r in routing.reasons)


def test_a_lane_can_name_its_own_reviewer_and_a_team_without_a_lead_reviews_itself() -> None:
    def edit(data: dict[str, Any]) -> None:
        data["lanes"]["sales"]["review_owner"] = "partnerships"
        del data["teams"]["support"]["lead"]

    custom = policy(edit)
    sales = route(classified("sales_lead", needs_review=True), custom).routing
    support = route(classified("order_shipping", needs_review=True), custom).routing
    assert (sales.review_owner, support.review_owner) == ("partnerships", "support")
    assert "review: partnerships checks the classification (the classifier is unsure)" in sales.reasons


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (lambda d: d["lanes"]["sales"].update(review_owner="nobody"), "lanes.sales.review_owner: 'nobody'"),
        (lambda d: d["teams"]["growth"].update(lead="support-lead"), "teams.growth.lead: 'support-lead' is not one"),
    ],
)
def test_the_policy_check_refuses_an_unknown_reviewer(edit: Any, error: str) -> None:
    with pytest.raises(PolicyError, match=error):
        policy(edit)
