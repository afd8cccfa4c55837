"""From pipeline records to clock inputs, and from fired alerts to ``sla_alert`` records."""

from datetime import UTC, datetime

from triage_schemas.enums import (
    ActorKind,
    AlertKind,
    Channel,
    ConversationEventType,
    Direction,
    ReplyMode,
    Severity,
    Tier,
)
from triage_schemas.policy import ClockPolicy, SlaPolicy
from triage_schemas.records import ConversationEvent, RoutedMessage, SlaAlert
from triage_sla_monitor.clock import Alert, ClockStore, Facts, Subject

FACTS: dict[ConversationEventType, Facts | None] = {
    ConversationEventType.AGENT_REPLIED: Facts.REPLY,
    ConversationEventType.PAUSED: Facts.PAUSE,
    ConversationEventType.RESUMED: Facts.RESUME,
    ConversationEventType.RESOLVED: Facts.RESOLVE,
    ConversationEventType.REOPENED: Facts.REOPEN,
    ConversationEventType.ASSIGNED: None,  # changes who is on it, not the clock
    ConversationEventType.UNASSIGNED: None,
    # the router answers a correction with the message routed again; that record moves the clock
    ConversationEventType.RECLASSIFIED: None,
}

SEVERITY = {
    AlertKind.WARNING: Severity.WARNING,
    AlertKind.BREACH: Severity.CRITICAL,
    AlertKind.ESCALATION: Severity.CRITICAL,
    # the window is about to close for good: after it the brand cannot answer at all
    AlertKind.WINDOW_CLOSING: Severity.CRITICAL,
    AlertKind.RESOLUTION_WARNING: Severity.WARNING,
    AlertKind.RESOLUTION_BREACH: Severity.WARNING,
    AlertKind.FOLLOW_UP_DUE: Severity.INFO,
    AlertKind.CLOSURE_NOTE_DUE: Severity.INFO,
}
PUBLIC = (Channel.PUBLIC_COMMENT, Channel.MENTION)
TO_DM = (ReplyMode.DM, ReplyMode.PUBLIC_ACK_THEN_DM)


def epoch(moment: datetime) -> float:
    return moment.timestamp()


def clock_store(policy: ClockPolicy) -> ClockStore:
    """The clocks as a policy file configures them: fractions, calendars, follow-up."""
    calendars = {name: calendar for name in policy.calendars if (calendar := policy.calendar(name)) is not None}
    return ClockStore(policy.sla.alerts, calendars=calendars, follow_up_after=policy.sla.follow_up_after)


def subject_of(routed: RoutedMessage, policy: ClockPolicy | SlaPolicy | None = None) -> Subject | None:
    """The alert subject, or None when no clock runs.

    Live, the targets and calendar are the ones the router stamped (it read the same
    policy file); ``policy`` given (offline replay of another policy) re-applies them."""
    c, r = routed.classification, routed.routing
    if isinstance(policy, SlaPolicy):
        policy = ClockPolicy(sla=policy)
    if policy is not None:
        sla = policy.sla
        target = sla.target_seconds(c.issue_type, c.lane, c.priority)
        next_target = sla.next_response_seconds(c.issue_type, c.lane, c.priority)
        resolution = sla.resolution_seconds(c.issue_type, c.lane, c.priority)
        calendar = None if sla.counts_wall_time(c.priority) else r.calendar
    else:
        target = stamped_target(routed)
        next_target, resolution, calendar = r.next_response_target_seconds, r.resolution_target_seconds, r.calendar
    if target is None or target <= 0:
        return None
    return Subject(
        c.lane.value, c.priority.value, c.issue_type.value, r.owner, int(r.tier), routed.platform.value,
        routed.channel.value, target, calendar=calendar, next_target_seconds=next_target,
        resolution_target_seconds=resolution, moved_to_dm=routed.channel in PUBLIC and r.reply_mode in TO_DM,
    )  # fmt: skip


def stamped_target(routed: RoutedMessage) -> int | None:
    r = routed.routing
    if r.first_response_due_at is None:
        return None
    if r.first_response_target_seconds is not None:
        return r.first_response_target_seconds
    return round((r.first_response_due_at - routed.created_at).total_seconds())


def window_deadline(routed: RoutedMessage, margin: float, sla: SlaPolicy | None = None) -> float | None:
    """When the brand must have answered before the platform's reply window closes: the
    close the router stamped (or ``sla``'s windows, replaying another policy) minus ``margin``."""
    closes = routed.routing.reply_window_closes_at
    if sla is not None:
        closes = sla.reply_windows.closes_at(routed.platform, routed.channel, routed.created_at)
    return None if closes is None else closes.timestamp() - margin


def is_reply(routed: RoutedMessage) -> bool:
    """An outbound message (a page echo, the brand's own comment) is the first agent reply."""
    return routed.direction is Direction.OUTBOUND


def fact_of(event: ConversationEvent) -> Facts | None:
    """What the event means for the clock; an automated reply means nothing to it."""
    if event.type is ConversationEventType.AGENT_REPLIED and event.actor_kind is ActorKind.AUTOMATION:
        return None
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
            "target_seconds": alert.target_seconds,
            "due_at": datetime.fromtimestamp(alert.due_at, UTC),
            "elapsed_seconds": round(alert.elapsed_seconds, 3),
            "at": datetime.fromtimestamp(alert.at, UTC),
            "response": alert.response,
            "calendar": s.calendar,
        }
    )
