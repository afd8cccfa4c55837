"""Record builders every test tree shares, so a record's shape is written once.

The lane and priority of an issue type come from the shipped taxonomy
(``services/classifier/src/triage_classifier/taxonomy.yaml``), never from a copy, so a
test cannot silently disagree with the taxonomy when it changes.
"""

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from triage_schemas.records import ClassifiedMessage, SocialMessage

REPO = Path(__file__).resolve().parent.parent
TAXONOMY = REPO / "services/classifier/src/triage_classifier/taxonomy.yaml"
RECEIVED = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@cache
def lane_and_priority() -> dict[str, tuple[str, str]]:
    data = yaml.safe_load(TAXONOMY.read_text(encoding="utf-8"))
    return {name: (rule["lane"], rule["priority"]) for name, rule in data["issue_types"].items()}


def message_fields(**overrides: Any) -> dict[str, Any]:
    """A normalised inbound message as JSON-ready fields; ``overrides`` replace any of them."""
    received = overrides.pop("received_at", RECEIVED)
    fields: dict[str, Any] = {
        "message_id": "instagram:1",
        "conversation_id": "c1",
        "platform": "instagram",
        "channel": "public_comment",
        "direction": "inbound",
        "author": {"id": "a1", "followers": 10},
        "text": "hello",
        "created_at": overrides.pop("created_at", received),
        "received_at": received,
    }
    fields.update(overrides)
    return fields


def message(**overrides: Any) -> SocialMessage:
    return SocialMessage.model_validate(message_fields(**overrides))


def classified(issue_type: str = "feedback", **overrides: Any) -> ClassifiedMessage:
    """A classified message of ``issue_type`` in its taxonomy lane and priority
    (``lane=`` and ``priority=`` override them)."""
    lane, priority = lane_and_priority()[issue_type]
    classification = {
        "issue_type": issue_type,
        "lane": overrides.pop("lane", lane),
        "priority": overrides.pop("priority", priority),
        "confidence": overrides.pop("confidence", 0.9),
        "needs_review": overrides.pop("needs_review", False),
        "review_reasons": overrides.pop("review_reasons", []),
        "sentiment": {"label": "neutral", "score": 0.9},
        "scores": {issue_type: 0.9},
        "model_version": "test",
    }
    return ClassifiedMessage.model_validate({**message_fields(**overrides), "classification": classification})
