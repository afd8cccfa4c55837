"""From pipeline records to clock inputs, and from fired alerts to ``sla_alert`` records."""

from datetime import UTC, datetime

from triage_schemas.enums import AlertKind, ConversationEventType, Direction, Severity, Tier
from triage_schemas.policy import SlaPolicy
from triage_schemas.records import ConversationEvent, RoutedMessage, SlaAlert
from triage_sla_monitor.clock import Alert, Facts, Subject

FACTS: dict[ConversationEventType, Facts | None] = {
    ConversationEventType.AGENT_REPLIED: Facts.REPLY,
    ConversationEventType.PAUSED: Facts.PAUSE,
    ConversationEventType.RESUMED: Facts.RESUME,
    ConversationEventType.RESOLVED: Facts.RESOLVE,
    ConversationEventType.REOPENED: Facts.REOPEN,
    ConversationEventType.ASSIGNED: None,  # changes who is on it, not the clock
}

SEVERITY = {
    AlertKind.WARNING: Severity.WARNING,
    AlertKind.BREACH: Severity.CRITICAL,
    AlertKind.ESCALATION: Severity.CRITICAL,
}


def epoch(moment: datetime) -> float:
    return moment.timestamp()


def subject_of(routed: RoutedMessage, policy: SlaPolicy | None = None) -> Subject | None:
    """The alert subject, or None when no clock runs; ``policy`` re-applies a target offline."""
    c, r = routed.classification, routed.routing
    if policy is not None:
        target = policy.target_seconds(c.issue_type, c.lane, c.priority)
    elif r.first_response_due_at is None:
        target = None
    elif r.first_response_target_seconds is not None:
        target = r.first_response_target_seconds
    else:
        target = round((r.first_response_due_at - routed.created_at).total_seconds())
    if target is None or target <= 0:
        return None
    return Subject(
        c.lane.value, c.priority.value, c.issue_type.value, r.owner, int(r.tier), routed.platform.value,
        routed.channel.value, target,
    )  # fmt: skip


def is_reply(routed: RoutedMessage) -> bool:
    """An outbound message (a page echo, the brand's own comment) is the first agent reply."""
    return routed.direction is Direction.OUTBOUND


def fact_of(event: ConversationEvent) -> Facts | None:
    return FACTS[event.type]


def alert_tier(alert: Alert) -> int:
    """The spec's tier 2: a breach still unanswered at twice its target goes to leadership,
    whatever tier the routed message had."""
    if alert.kind is AlertKind.ESCALATION:
        return max(int(alert.subject.tier), int(Tier.LEADERSHIP))
    return int(alert.subject.tier)


def alert_record(alert: Alert) -> SlaAlert:
    s = alert.subject
    return SlaAlert.model_validate(
        {
            "alert_id": alert.alert_id,
            "conversation_id": alert.conversation_id,
            "kind": alert.kind,
            "severity": SEVERITY[alert.kind],
            "lane": s.lane,
            "priority": s.priority,
            "issue_type": s.issue_type,
            "platform": s.platform,
            "owner": s.owner,
            "tier": alert_tier(alert),
            "target_seconds": s.target_seconds,
            "due_at": datetime.fromtimestamp(alert.due_at, UTC),
            "elapsed_seconds": round(alert.elapsed_seconds, 3),
            "at": datetime.fromtimestamp(alert.at, UTC),
        }
    )
