"""What the live view shows, computed from the pipeline's output records.

Plain state with no Kafka in it: feed it routed messages, conversation events and SLA
alerts in any order and ask for the recent messages and the per-lane summary.
"""

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median

from triage_schemas import (
    Agent,
    AlertKind,
    ConversationEvent,
    ConversationEventType,
    Lane,
    RoutedMessage,
    SlaAlert,
    SurgeAlert,
    SurgeKind,
)

_ALERT_STATE = {AlertKind.WARNING: "warning", AlertKind.BREACH: "BREACH", AlertKind.ESCALATION: "ESCALATED"}


@dataclass
class Conversation:
    lane: Lane
    routed_at: datetime
    has_clock: bool
    answered_at: datetime | None = None
    alert: AlertKind | None = None
    resolved: bool = False

    @property
    def state(self) -> str:
        if not self.has_clock:
            return "no clock"
        if self.resolved:
            return "resolved"
        if self.answered_at is not None:
            return "answered" + (" late" if self.alert in (AlertKind.BREACH, AlertKind.ESCALATION) else "")
        return _ALERT_STATE[self.alert] if self.alert else "running"


@dataclass(frozen=True)
class MessageRow:
    conversation_id: str
    at: datetime
    platform: str
    lane: str
    priority: str
    issue_type: str
    owner: str
    tier: int
    agent: str = ""


@dataclass
class AgentRow:
    """An agent as the roster and the assignment events show them."""

    agent_id: str
    name: str
    status: str
    capacity: int
    teams: list[str]
    open: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class LaneSummary:
    lane: Lane
    backlog: int
    oldest_unanswered_seconds: float | None
    median_first_response_seconds: float | None
    breaches: int


@dataclass
class Board:
    recent_size: int = 14
    conversations: dict[str, Conversation] = field(default_factory=dict)
    recent: deque[MessageRow] = field(default_factory=deque)
    first_responses: dict[Lane, list[float]] = field(default_factory=dict)
    breaches: dict[Lane, int] = field(default_factory=dict)
    early_replies: dict[str, datetime] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: {"routed": 0, "replies": 0, "alerts": 0})
    agents: dict[str, AgentRow] = field(default_factory=dict)
    holder: dict[str, str] = field(default_factory=dict)
    waiting: dict[str, str] = field(default_factory=dict)  # conversation -> team
    surges: dict[str, SurgeAlert] = field(default_factory=dict)  # "<dimension>:<value>" -> its latest alert

    def add_agent(self, agent: Agent) -> None:
        row = self.agents.get(agent.agent_id)
        open_now = row.open if row is not None else set()
        self.agents[agent.agent_id] = AgentRow(
            agent.agent_id, agent.name, str(agent.status), agent.capacity, list(agent.teams), open_now
        )

    def add_routed(self, message: RoutedMessage) -> None:
        self.counts["routed"] += 1
        routing, classification = message.routing, message.classification
        self.recent.appendleft(
            MessageRow(
                conversation_id=message.conversation_id,
                at=message.received_at,
                platform=message.platform.value,
                lane=classification.lane.value,
                priority=classification.priority.value,
                issue_type=classification.issue_type.value,
                owner=routing.owner,
                tier=int(routing.tier),
                agent=routing.agent_id or ("queued" if routing.queued_reason else ""),
            )
        )
        while len(self.recent) > self.recent_size:
            self.recent.pop()
        if message.conversation_id in self.conversations:
            return  # a follow-up in the same conversation keeps the first clock
        conversation = Conversation(
            lane=classification.lane,
            routed_at=message.received_at,
            has_clock=routing.first_response_due_at is not None,
        )
        self.conversations[message.conversation_id] = conversation
        early = self.early_replies.pop(message.conversation_id, None)
        if early is not None:
            self._answer(conversation, early)

    def add_event(self, event: ConversationEvent) -> None:
        conversation = self.conversations.get(event.conversation_id)
        if event.type is ConversationEventType.AGENT_REPLIED:
            self.counts["replies"] += 1
            if conversation is None:
                self.early_replies[event.conversation_id] = event.at
            else:
                self._answer(conversation, event.at)
        elif event.type is ConversationEventType.RESOLVED and conversation is not None:
            conversation.resolved = True
        if event.type in (
            ConversationEventType.ASSIGNED,
            ConversationEventType.UNASSIGNED,
            ConversationEventType.RESOLVED,
        ):
            self._track_assignment(event)

    def _track_assignment(self, event: ConversationEvent) -> None:
        conversation = event.conversation_id
        previous = self.holder.pop(conversation, None)
        if previous is not None and previous in self.agents:
            self.agents[previous].open.discard(conversation)
        self.waiting.pop(conversation, None)
        if event.type is ConversationEventType.ASSIGNED and event.agent_id is not None:
            self.holder[conversation] = event.agent_id
            if event.agent_id in self.agents:
                self.agents[event.agent_id].open.add(conversation)
        elif event.type is ConversationEventType.UNASSIGNED and event.need is not None:
            self.waiting[conversation] = event.need.team

    def queues(self) -> dict[str, int]:
        """Conversations waiting for an agent, per team."""
        counts: dict[str, int] = {}
        for team in self.waiting.values():
            counts[team] = counts.get(team, 0) + 1
        return counts

    def add_alert(self, alert: SlaAlert) -> None:
        self.counts["alerts"] += 1
        conversation = self.conversations.get(alert.conversation_id)
        if alert.kind is AlertKind.BREACH:
            self.breaches[alert.lane] = self.breaches.get(alert.lane, 0) + 1
        if conversation is not None and conversation.answered_at is None:
            conversation.alert = alert.kind

    def add_surge(self, alert: SurgeAlert) -> None:
        """The latest of each dimension: a surge shows as open until its resolution."""
        self.counts["surges"] = self.counts.get("surges", 0) + int(alert.kind is not SurgeKind.SURGE_RESOLVED)
        self.surges[f"{alert.dimension.value}:{alert.value}"] = alert

    def open_surges(self) -> list[SurgeAlert]:
        return [a for a in self.surges.values() if a.kind is not SurgeKind.SURGE_RESOLVED]

    def _answer(self, conversation: Conversation, at: datetime) -> None:
        if conversation.answered_at is not None or not conversation.has_clock:
            return
        conversation.answered_at = at
        elapsed = max(0.0, (at - conversation.routed_at).total_seconds())
        self.first_responses.setdefault(conversation.lane, []).append(elapsed)

    def state_of(self, conversation_id: str) -> str:
        conversation = self.conversations.get(conversation_id)
        return conversation.state if conversation else "?"

    def lanes(self, now: datetime) -> list[LaneSummary]:
        summaries = []
        for lane in Lane:
            waiting = [
                c
                for c in self.conversations.values()
                if c.lane is lane and c.has_clock and c.answered_at is None and not c.resolved
            ]
            oldest = max(((now - c.routed_at).total_seconds() for c in waiting), default=None)
            responses = self.first_responses.get(lane, [])
            summaries.append(
                LaneSummary(
                    lane=lane,
                    backlog=len(waiting),
                    oldest_unanswered_seconds=oldest,
                    median_first_response_seconds=median(responses) if responses else None,
                    breaches=self.breaches.get(lane, 0),
                )
            )
        return summaries
