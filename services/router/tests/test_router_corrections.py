"""Corrections: a person's reclassification routes the message again, as if the model
had been right, and says so."""

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.factories import classified
from triage_router.config import RouterSettings
from triage_router.correction_step import CorrectionStep
from triage_router.corrections import Recent, correction_target, reroute
from triage_router.policy import DEFAULT_POLICY, load_policy
from triage_router.routing import route
from triage_runtime.delivery import Inbound, Rejected
from triage_schemas.records import ConversationEvent, RoutedMessage

POLICY = load_policy(DEFAULT_POLICY)


def routed_feedback(cid: str = "c1") -> RoutedMessage:
    return route(classified("feedback", conversation_id=cid, confidence=0.5), POLICY)


def correction(cid: str = "c1", **fix: Any) -> ConversationEvent:
    return ConversationEvent.model_validate(
        {
            "event_id": f"fix-{cid}",
            "conversation_id": cid,
            "type": "reclassified",
            "at": datetime(2026, 11, 2, 9, 5, tzinfo=UTC).isoformat(),
            "actor": "care-lead",
            "correction": {"message_id": "instagram:1", "model_version": "clf-test", **fix},
        }
    )


def test_a_feedback_corrected_to_a_safety_threat_goes_to_the_specialist_with_the_p1_target() -> None:
    before = routed_feedback()
    after = reroute(before, correction(issue_type="safety_threat"), POLICY)
    c, r = after.classification, after.routing
    assert (c.issue_type, c.lane, c.priority, c.confidence, c.needs_review) == (
        "safety_threat", "risk", "P1", 1.0, False,
    )  # fmt: skip
    assert (r.owner, int(r.tier), r.corrected_by) == ("trust-safety-lead", 1, "fix-c1")
    assert r.reasons[0] == (
        "reclassified by care-lead: feedback/community/P3 -> safety_threat/risk/P1 (model clf-test)"
    )
    assert r.first_response_target_seconds is not None and before.routing.first_response_target_seconds is not None
    assert r.first_response_target_seconds < before.routing.first_response_target_seconds
    # counted from when the customer wrote, not from the correction
    assert r.first_response_due_at is not None
    assert r.first_response_due_at.timestamp() == pytest.approx(
        before.received_at.timestamp() + r.first_response_target_seconds
    )
    assert (after.message_id, after.text) == (before.message_id, before.text)


def test_a_correction_may_name_the_lane_priority_and_sentiment() -> None:
    after = reroute(
        routed_feedback(), correction(issue_type="payment_issue", priority="P1", sentiment="negative"), POLICY
    )
    c = after.classification
    assert (c.issue_type, c.lane, c.priority, c.sentiment.label) == ("payment_issue", "support", "P1", "negative")


def test_a_correction_for_a_conversation_not_remembered_is_a_dead_letter_with_its_reason() -> None:
    with pytest.raises(Rejected, match="not among the routed messages this router remembers"):
        correction_target(correction(issue_type="spam"), Recent(10))


def test_memory_keeps_the_latest_inbound_message_of_the_most_recent_conversations() -> None:
    recent = Recent(limit=2)
    for cid in ("a", "b", "c"):
        recent.remember(cid, routed_feedback(cid).to_json_bytes())
    assert (recent.get("a"), len(recent)) == (None, 2)
    recent.forget("b")
    assert recent.get("b") is None and recent.get("c") is not None
    outbound = route(classified("feedback", conversation_id="d", direction="outbound"), POLICY)
    recent.remember("d", outbound.to_json_bytes())
    assert recent.get("d") is None  # the brand's own message is not what a correction corrects


def test_the_step_remembers_routed_messages_forgets_resolved_ones_and_answers_a_correction() -> None:
    step = CorrectionStep(POLICY, RouterSettings())
    topics = step.topics
    message = routed_feedback()
    assert step.on_input(Inbound(message.to_json_bytes(), key=b"c1", topic=topics.routed)) == []
    [out] = step.on_input(
        Inbound(correction(issue_type="harassment").to_json_bytes(), topic=topics.conversation_events)
    )
    assert out.topic == topics.routed and isinstance(out.record, RoutedMessage)
    assert (out.record.classification.issue_type, out.record.routing.owner) == ("harassment", "moderation")
    resolved = ConversationEvent.model_validate(
        {"event_id": "r1", "conversation_id": "c1", "type": "resolved", "at": "2026-11-02T09:10:00Z"}
    )
    step.on_input(Inbound(resolved.to_json_bytes(), key=b"c1", topic=topics.conversation_events))
    with pytest.raises(Rejected):
        step.on_input(Inbound(correction(issue_type="spam").to_json_bytes(), topic=topics.conversation_events))
    assert step.on_input(Inbound(b'{not json "reclassified"', topic=topics.conversation_events)) == []


def test_only_a_reclassified_event_carries_a_correction() -> None:
    with pytest.raises(ValueError, match="a reclassified event carries a correction"):
        ConversationEvent.model_validate(
            {"event_id": "e", "conversation_id": "c", "type": "reclassified", "at": "2026-11-02T09:10:00Z"}
        )
