"""Every rule of the spec's escalation tiers and SLA sections, walked through the shipped policy."""

from datetime import timedelta
from typing import Any

import pytest

from tests.factories import RECEIVED, classified
from triage_router.policy import DEFAULT_POLICY, load_policy
from triage_router.routing import route
from triage_schemas.enums import IssueType, Lane, Priority, ReplyMode, Tier
from triage_schemas.records import ClassifiedMessage

POLICY = load_policy(DEFAULT_POLICY)


def message(issue_type: str, text: str = "hello", **overrides: Any) -> ClassifiedMessage:
    """A public Instagram comment of ``issue_type`` in its taxonomy lane and priority."""
    return classified(issue_type, text=text, **overrides)


# issue type, owner, tier, reply mode (public comment, no PII), target seconds
SPEC_TABLE = [
    ("account_compromise", "security-oncall", 1, "dm", 15 * 60),
    ("safety_threat", "trust-safety-lead", 1, "dm", 15 * 60),
    ("harassment", "moderation", 1, "moderate", 30 * 60),
    ("legal_regulatory", "legal", 1, "dm", 60 * 60),
    ("payment_issue", "support-lead", 1, "public_ack_then_dm", 60 * 60),
    ("order_shipping", "logistics", 1, "public_first", 2 * 3600),
    ("technical_issue", "support", 0, "public_first", 4 * 3600),
    ("product_question", "social-care", 0, "public_first", 4 * 3600),
    ("sales_lead", "growth", 0, "dm", 4 * 3600),
    ("partnership", "partnerships", 1, "dm", 12 * 3600),
    ("feedback", "social-care", 0, "public_first", 6 * 3600),
    ("spam", "social-care", 0, "hide", None),
]


@pytest.mark.parametrize(("issue_type", "owner", "tier", "mode", "target"), SPEC_TABLE)
def test_issue_type_defaults(issue_type: str, owner: str, tier: int, mode: str, target: int | None) -> None:
    routing = route(message(issue_type), POLICY).routing
    assert (routing.owner, int(routing.tier), str(routing.reply_mode)) == (owner, tier, mode)
    assert routing.first_response_target_seconds == target
    expected_due = None if target is None else RECEIVED + timedelta(seconds=target)
    assert routing.first_response_due_at == expected_due
    assert routing.policy_version == POLICY.version
    assert routing.reasons


# issue type, text, expected tier, expected trigger id (in reasons), owner
TRIGGER_TABLE = [
    ("sales_lead", "What budget do you need for 500 units?", 1, "sales-budget-contract", "sales-lead"),
    ("sales_lead", "Pouvez-vous envoyer le contrat ?", 1, "sales-budget-contract", "sales-lead"),
    ("sales_lead", "¿Ofrecen exclusividad en México?", 1, "sales-budget-contract", "sales-lead"),
    ("technical_issue", "I will file a chargeback today", 1, "support-chargeback", "support-lead"),
    ("technical_issue", "voy a pedir un contracargo", 1, "support-chargeback", "support-lead"),
    ("technical_issue", "I'm locked out of my account", 1, "support-lockout", "security-oncall"),
    ("technical_issue", "mon compte bloqué depuis hier", 1, "support-lockout", "security-oncall"),
    ("technical_issue", "mi cuenta bloqueada otra vez", 1, "support-lockout", "security-oncall"),
    ("feedback", "this charger is dangerous, it caught fire", 1, "community-product-safety", "trust-safety-lead"),
    ("feedback", "produit dangereux, mon fils est blessé", 1, "community-product-safety", "trust-safety-lead"),
    ("product_question", "es peligroso para niños?", 1, "community-product-safety", "trust-safety-lead"),
    ("feedback", "this comment section is full of hate speech", 1, "community-hate-threats", "moderation"),
    ("feedback", "il a reçu des menaces ici", 1, "community-hate-threats", "moderation"),
    ("feedback", "recibí amenazas de otro usuario", 1, "community-hate-threats", "moderation"),
    ("legal_regulatory", "I am reporting you to the regulator", 2, "risk-regulatory", "legal"),
    ("legal_regulatory", "plainte à la CNIL", 2, "risk-regulatory", "legal"),
    ("legal_regulatory", "denuncia ante el organismo regulador", 2, "risk-regulatory", "legal"),
    ("safety_threat", "someone doxxed me with my home address", 2, "risk-doxxing", "trust-safety-lead"),
    ("safety_threat", "ils ont divulgué mon adresse", 2, "risk-doxxing", "trust-safety-lead"),
    ("safety_threat", "publicaron mi dirección personal", 2, "risk-doxxing", "trust-safety-lead"),
    ("harassment", "this is turning into a crisis", 2, "risk-crisis", "trust-safety-lead"),
    ("harassment", "une crise sur tous les réseaux", 2, "risk-crisis", "trust-safety-lead"),
    ("harassment", "ya hay periodistas preguntando", 2, "risk-crisis", "trust-safety-lead"),
]


@pytest.mark.parametrize(("issue_type", "text", "tier", "trigger", "owner"), TRIGGER_TABLE)
def test_escalation_triggers(issue_type: str, text: str, tier: int, trigger: str, owner: str) -> None:
    routed = route(message(issue_type, text), POLICY)
    routing = routed.routing
    assert int(routing.tier) == tier
    if tier == 2:
        # leadership is told; the specialist (or the lane's team) keeps the conversation
        rule = POLICY.issue_types[routed.classification.issue_type]
        keeper = rule.specialist or POLICY.lanes[routed.classification.lane].team
        assert (routing.escalate_to, routing.owner) == (owner, keeper)
    else:
        assert (routing.escalate_to, routing.owner) == (None, owner)
    assert routing.team == POLICY.team_of(routing.owner)
    assert any(f"trigger {trigger}" in reason for reason in routing.reasons)


def test_keywords_do_not_fire_outside_their_lane_or_inside_other_words() -> None:
    # "budget" is a sales trigger: a support message mentioning it stays with its owner.
    assert int(route(message("technical_issue", "budget app crashes"), POLICY).routing.tier) == 0
    # "dox" must not match inside "paradox".
    routing = route(message("safety_threat", "what a paradox"), POLICY).routing
    assert int(routing.tier) == 1


def test_spam_never_escalates_and_has_no_clock() -> None:
    routing = route(
        message("spam", "crisis budget threat chargeback", author={"id": "x", "followers": 10**7}), POLICY
    ).routing
    assert int(routing.tier) == 0
    assert routing.first_response_due_at is None and routing.first_response_target_seconds is None


@pytest.mark.parametrize(
    ("followers", "channel", "priority", "tier"),
    [
        (100_000, "public_comment", "P1", 2),
        (250_000, "mention", "P1", 2),
        (99_999, "public_comment", "P1", 1),
        (500_000, "direct_message", "P1", 1),
        (500_000, "public_comment", "P2", 1),
        (None, "public_comment", "P1", 1),
    ],
)
def test_large_audience_p1_in_public_needs_leadership(
    followers: int | None, channel: str, priority: str, tier: int
) -> None:
    msg = message(
        "account_compromise", "hacked", channel=channel, priority=priority, author={"id": "a", "followers": followers}
    )
    routing = route(msg, POLICY).routing
    assert int(routing.tier) == tier
    if tier == 2:
        assert routing.escalate_to == "care-lead"
        assert routing.owner == "security-oncall"  # the account-compromise specialist keeps it
    else:
        assert routing.escalate_to is None


@pytest.mark.parametrize(
    ("issue_type", "channel", "pii", "mode"),
    [
        ("order_shipping", "public_comment", ["order_number"], "dm"),
        ("payment_issue", "mention", ["card_number"], "dm"),
        ("order_shipping", "public_comment", [], "public_first"),
        ("feedback", "direct_message", [], "dm"),
        ("harassment", "public_comment", ["email"], "dm"),
        ("spam", "direct_message", [], "hide"),
    ],
)
def test_reply_mode_switches_to_dm_for_personal_data_in_public(
    issue_type: str, channel: str, pii: list[str], mode: str
) -> None:
    routing = route(message(issue_type, channel=channel, pii=pii), POLICY).routing
    assert routing.reply_mode == ReplyMode(mode)


def test_fallback_target_per_lane_and_priority_when_issue_type_has_none() -> None:
    policy = POLICY.model_copy(update={"sla": POLICY.sla.model_copy(update={"targets": {IssueType.SPAM: None}})})
    routing = route(message("order_shipping"), policy).routing
    expected = POLICY.sla.fallback[Lane.SUPPORT][Priority.P2]
    assert routing.first_response_target_seconds == expected
    assert any("fallback support/P2" in r for r in routing.reasons)


def test_deadline_counts_from_received_time_not_creation() -> None:
    msg = message("payment_issue", created_at=RECEIVED - timedelta(hours=3))
    assert route(msg, POLICY).routing.first_response_due_at == RECEIVED + timedelta(hours=1)


def test_outbound_message_starts_no_clock() -> None:
    routing = route(message("feedback", direction="outbound"), POLICY).routing
    assert routing.first_response_due_at is None


def test_routed_record_keeps_the_whole_message_and_classification() -> None:
    msg = message("payment_issue", "double charged")
    routed = route(msg, POLICY)
    assert routed.record_type == "routed"
    assert routed.text == msg.text and routed.classification == msg.classification
    assert routed.routing.template_id == "payment-ack"
    assert routed.routing.tier == Tier.SPECIALIST


def test_huge_text_is_scanned_only_up_to_the_limit() -> None:
    text = "ok " * POLICY.keyword_scan_chars + " chargeback"
    assert int(route(message("technical_issue", text), POLICY).routing.tier) == 0
