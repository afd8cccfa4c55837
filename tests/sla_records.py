"""Builders of routed messages and conversation events for the sla-monitor tests."""

from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def at(seconds: float, base: datetime = T0) -> str:
    return (base + timedelta(seconds=seconds)).isoformat()


def routed(
    conversation_id: str,
    seconds: float,
    *,
    target: int | None = 3600,
    issue_type: str = "payment_issue",
    lane: str = "support",
    priority: str = "P2",
    direction: str = "inbound",
    channel: str = "direct_message",
    message_id: str | None = None,
    base: datetime = T0,
) -> dict[str, Any]:
    created = at(seconds, base)
    return {
        "record_type": "routed",
        "message_id": message_id or f"instagram:{conversation_id}:{seconds}",
        "conversation_id": conversation_id,
        "platform": "instagram",
        "channel": channel,
        "direction": direction,
        "author": {"id": "a1"},
        "text": "where is my refund",
        "created_at": created,
        "received_at": created,
        "classification": {
            "issue_type": issue_type,
            "lane": lane,
            "priority": priority,
            "confidence": 0.9,
            "needs_review": False,
            "sentiment": {"label": "negative", "score": 0.8},
            "scores": {issue_type: 0.9},
            "model_version": "test",
        },
        "routing": {
            "team": "support",
            "owner": "support-lead",
            "tier": 1,
            "reply_mode": "dm",
            "first_response_target_seconds": target,
            "first_response_due_at": at(seconds + target, base) if target is not None else None,
            "policy_version": "test",
        },
    }


def event(
    conversation_id: str, kind: str, seconds: float, event_id: str | None = None, base: datetime = T0
) -> dict[str, Any]:
    return {
        "record_type": "conversation_event",
        "event_id": event_id or f"{conversation_id}:{kind}:{seconds}",
        "conversation_id": conversation_id,
        "type": kind,
        "at": at(seconds, base),
        "actor": "agent-7",
    }
