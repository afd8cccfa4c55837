"""Who takes a conversation: the roster, every open conversation's agent, the team queues.

Plain classes with no Kafka in them. Every router replica keeps one ``AgentBook``
filled from two logs it reads in full (``social.agents`` and the assignment events on
``social.conversation-events``) plus its own decisions. One replica at a time is the
assigner (the owner of partition 0 of ``social.classified``): it alone gives agents,
so an agent's capacity is checked by a single writer; the other replicas put new
conversations in their team's queue, which the assigner serves within milliseconds.
See the router README ("Agents") for the bound at a change of assigner and how an
excess is given back.
"""

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from triage_router.policy import AssignmentRules, RoutingPolicy
from triage_schemas.enums import AgentStatus, AssignStrategy, ConversationEventType, Priority
from triage_schemas.records import Agent, ConversationEvent, Need, RoutedMessage

Owned = Callable[[str], bool]
DAY = 86_400.0
PRIORITY_RANK = {Priority.P1: 0, Priority.P2: 1, Priority.P3: 2}


@dataclass
class Open:
    """An open conversation: its agent (None: waiting in its team's queue) and needs."""

    agent_id: str | None
    need: Need
    assigned_at: float | None = None
    reason: str = ""


@dataclass(frozen=True)
class Placement:
    """Where a routed message's conversation stands after the decision."""

    agent_id: str | None
    queued_reason: str | None
    events: list[ConversationEvent]
    reason: str


@dataclass
class Undo:
    event_id: str
    conversation_id: str
    previous: Open | None
    previous_last: tuple[str, float] | None
    customer: str | None


DecisionLog = list[Undo]


def need_of(message: RoutedMessage, now: float) -> Need:
    c = message.classification
    customer = f"{message.platform}:{message.author.id}"
    return Need(
        team=message.routing.team,
        lane=c.lane,
        issue_type=c.issue_type,
        priority=c.priority,
        language=c.language,
        customer=customer,
        since=_at(now),
    )


def _at(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, UTC)


def _id(kind: str, cause: str) -> str:
    # The same message decides the same event id, so a redelivered batch repeats it
    # rather than adding a second one.
    return f"{kind}:{uuid.uuid5(uuid.NAMESPACE_URL, cause).hex}"


@dataclass
class AgentBook:
    """The global table of agents and assignments, as this replica knows it."""

    rules: AssignmentRules
    strategies: dict[str, AssignStrategy] = field(default_factory=dict)
    roster: dict[str, Agent] = field(default_factory=dict)
    conversations: dict[str, Open] = field(default_factory=dict)
    last_agent: dict[str, tuple[str, float]] = field(default_factory=dict)
    load: Counter[str] = field(default_factory=Counter)
    # Conversations waiting per team, kept with ``load`` so a routed message does not walk
    # every open conversation to learn whether others wait ahead of it.
    waiting: Counter[str] = field(default_factory=Counter)
    last_in_team: dict[str, str] = field(default_factory=dict)
    # Own decisions not yet acknowledged (undone if publishing fails) and acknowledged
    # but not yet read back (their read-back must not overwrite later own decisions).
    pending: set[str] = field(default_factory=set)
    unread: set[str] = field(default_factory=set)

    @classmethod
    def for_policy(cls, policy: RoutingPolicy) -> "AgentBook":
        return cls(policy.assignment, {name: team.strategy for name, team in policy.teams.items()})

    # --- what the logs say -----------------------------------------------------------

    def apply_agent(self, agent_id: str, agent: Agent | None) -> None:
        """A roster record (None: a tombstone, the agent left)."""
        if agent is None:
            self.roster.pop(agent_id, None)
        else:
            self.roster[agent_id] = agent

    def apply_event(self, event: ConversationEvent) -> bool:
        """A conversation event read from the log; True when it changed the book."""
        if event.event_id in self.unread:
            self.unread.discard(event.event_id)  # our own decision, applied when it was made
            return False
        if event.event_id in self.pending:
            return False
        return self._apply(event)

    def _apply(self, event: ConversationEvent) -> bool:
        conversation = event.conversation_id
        at = event.at.timestamp()
        match event.type:
            case ConversationEventType.ASSIGNED if event.agent_id is not None and event.need is not None:
                self._set(conversation, Open(event.agent_id, event.need, at, event.reason or ""))
                if event.need.customer is not None:
                    self.last_agent[event.need.customer] = (event.agent_id, at)
                self.last_in_team[event.need.team] = event.agent_id
                return True
            case ConversationEventType.UNASSIGNED if event.need is not None:
                self._set(conversation, Open(None, event.need, None, event.reason or ""))
                return True
            case ConversationEventType.RESOLVED:
                return self._set(conversation, None)
            case _:
                return False

    def _set(self, conversation: str, state: Open | None) -> bool:
        before = self.conversations.get(conversation)
        if before is not None:
            counts, key = (
                (self.load, before.agent_id) if before.agent_id is not None else (self.waiting, before.need.team)
            )
            counts[key] -= 1
            if counts[key] <= 0:
                del counts[key]
        if state is None:
            self.conversations.pop(conversation, None)
        else:
            self.conversations[conversation] = state
            if state.agent_id is not None:
                self.load[state.agent_id] += 1
            else:
                self.waiting[state.need.team] += 1
        return before is not None or state is not None

    # --- own decisions: applied at once, undone if they cannot be published --------------

    def _decide(self, event: ConversationEvent, log: DecisionLog) -> ConversationEvent:
        customer = event.need.customer if event.need is not None else None
        log.append(
            Undo(
                event.event_id,
                event.conversation_id,
                self.conversations.get(event.conversation_id),
                self.last_agent.get(customer) if customer is not None else None,
                customer,
            )
        )
        self.pending.add(event.event_id)
        self._apply(event)
        return event

    def acknowledged(self, log: DecisionLog) -> None:
        """The decisions in ``log`` were published: keep them, skip them when read back."""
        for undo in log:
            self.pending.discard(undo.event_id)
            self.unread.add(undo.event_id)
        log.clear()

    def undo(self, log: DecisionLog) -> int:
        """Publishing failed: forget the decisions in ``log`` (they are made again)."""
        undone = len(log)
        for undo in reversed(log):
            self.pending.discard(undo.event_id)
            self._set(undo.conversation_id, undo.previous)
            if undo.customer is not None:
                if undo.previous_last is None:
                    self.last_agent.pop(undo.customer, None)
                else:
                    self.last_agent[undo.customer] = undo.previous_last
        log.clear()
        return undone

    # --- eligibility and choice ------------------------------------------------------------

    def eligible(self, agent: Agent, need: Need) -> bool:
        """Online, in the team, with the skill (issue type or lane) and a language of the message."""
        if agent.status != AgentStatus.ONLINE or need.team not in agent.teams:
            return False
        if agent.skills and str(need.issue_type) not in agent.skills and str(need.lane) not in agent.skills:
            return False
        return not (agent.languages and need.language is not None and need.language not in agent.languages)

    def _why_none(self, need: Need) -> str:
        team = [a for a in self.roster.values() if need.team in a.teams]
        if not team:
            return f"no agent on the roster for team {need.team}"
        online = [a for a in team if a.status == AgentStatus.ONLINE]
        if not online:
            return f"no agent of {need.team} is online"
        able = [a for a in online if self.eligible(a, need)]
        if not able:
            language = f" in {need.language}" if need.language else ""
            return f"no online agent of {need.team} takes {need.issue_type}{language}"
        return f"every eligible agent of {need.team} is at capacity"

    def pick(self, need: Need, now: float, planned: Counter[str] | None = None) -> tuple[Agent, str] | None:
        planned = planned or Counter()
        free = [
            a
            for a in self.roster.values()
            if self.eligible(a, need) and self.load[a.agent_id] + planned[a.agent_id] < a.capacity
        ]
        if not free:
            return None
        if need.customer is not None and need.customer in self.last_agent:
            last, at = self.last_agent[need.customer]
            if now - at <= self.rules.sticky_days * DAY:
                for agent in free:
                    if agent.agent_id == last:
                        return agent, "sticky"
        strategy = self.strategies.get(need.team, AssignStrategy.LEAST_LOADED)
        if strategy == AssignStrategy.ROUND_ROBIN:
            ordered = sorted(free, key=lambda a: a.agent_id)
            previous = self.last_in_team.get(need.team)
            after = [a for a in ordered if previous is None or a.agent_id > previous]
            return (after or ordered)[0], str(strategy)
        chosen = min(free, key=lambda a: (self.load[a.agent_id] + planned[a.agent_id], a.agent_id))
        return chosen, str(strategy)

    def _event(
        self, kind: ConversationEventType, conversation: str, need: Need, agent_id: str | None, reason: str, now: float,
        event_id: str | None = None,
    ) -> ConversationEvent:  # fmt: skip
        return ConversationEvent(
            event_id=event_id or f"{kind}:{conversation}:{uuid.uuid4().hex[:16]}",
            conversation_id=conversation,
            type=kind,
            at=_at(now),
            actor="router",
            agent_id=agent_id,
            reason=reason,
            need=need,
        )

    # --- the decisions -----------------------------------------------------------------

    def place(
        self, conversation: str, need: Need, now: float, cause: str, log: DecisionLog, assigner: bool = True
    ) -> Placement:
        """A routed message: an open conversation keeps its agent (or its place in the
        queue); a new one takes a free agent unless others of its team wait already.
        Only the assigner (one replica) gives agents; elsewhere a new one waits for it."""
        if not self.roster:
            return Placement(None, None, [], "no roster")
        current = self.conversations.get(conversation)
        if current is not None and current.agent_id is not None:
            return Placement(current.agent_id, None, [], "open conversation keeps its agent")
        if current is not None:
            return Placement(None, current.reason, [], "still waiting")
        waiting = self.waiting[need.team]
        choice = None if waiting or not assigner else self.pick(need, now)
        if choice is None:
            if not assigner:
                reason = "waiting for the assigner (another router replica)"
            elif waiting:
                reason = f"{waiting} waiting ahead in the {need.team} queue"
            else:
                reason = self._why_none(need)
            event = self._event(
                ConversationEventType.UNASSIGNED, conversation, need, None, reason, now, _id("queued", cause)
            )
            self._decide(event, log)
            return Placement(None, reason, [event], "queued")
        agent, how = choice
        reason = f"{how}: {agent.agent_id} of {need.team}"
        event = self._event(
            ConversationEventType.ASSIGNED, conversation, need, agent.agent_id, reason, now, _id("assigned", cause)
        )
        self._decide(event, log)
        return Placement(agent.agent_id, None, [event], how)

    def reconcile(self, owned: Owned, now: float, log: DecisionLog) -> list[ConversationEvent]:
        """Bring the book to its rules: conversations of agents who left go back to
        assignment, a recent over-assignment is given back, the queues are served."""
        events: list[ConversationEvent] = []
        for conversation, state in sorted(self.conversations.items()):
            agent = self.roster.get(state.agent_id) if state.agent_id is not None else None
            if state.agent_id is None or (agent is not None and agent.status == AgentStatus.ONLINE):
                continue
            if state.need.priority not in self.rules.reassign_priorities or not owned(conversation):
                continue
            status = "left the roster" if agent is None else f"is {agent.status}"
            reason = f"agent {state.agent_id} {status}"
            events.append(self._decide(self._event(
                ConversationEventType.UNASSIGNED, conversation, state.need, state.agent_id, reason, now
            ), log))  # fmt: skip
        events.extend(self._give_back_excess(owned, now, log))
        events.extend(self._serve_queues(owned, now, log))
        return events

    def _give_back_excess(self, owned: Owned, now: float, log: DecisionLog) -> list[ConversationEvent]:
        events = []
        for agent_id, agent in sorted(self.roster.items()):
            excess = self.load[agent_id] - agent.capacity
            if excess <= 0:
                continue
            recent = sorted(
                (
                    (state.assigned_at or 0.0, conversation)
                    for conversation, state in self.conversations.items()
                    if state.agent_id == agent_id and now - (state.assigned_at or 0.0) <= self.rules.correction_seconds
                ),
                reverse=True,
            )
            for _, conversation in recent[:excess]:
                if owned(conversation):
                    state = self.conversations[conversation]
                    reason = (
                        f"agent {agent_id} was over capacity ({agent.capacity}): assigned elsewhere at the same time"
                    )
                    events.append(self._decide(self._event(
                        ConversationEventType.UNASSIGNED, conversation, state.need, agent_id, reason, now
                    ), log))  # fmt: skip
        return events

    def _serve_queues(self, owned: Owned, now: float, log: DecisionLog) -> list[ConversationEvent]:
        events = []
        planned: Counter[str] = Counter()
        waiting = sorted(
            (PRIORITY_RANK[state.need.priority], state.need.since, conversation)
            for conversation, state in self.conversations.items()
            if state.agent_id is None
        )
        for _, _, conversation in waiting:
            state = self.conversations[conversation]
            choice = self.pick(state.need, now, planned)
            if choice is None:
                continue
            agent, how = choice
            if not owned(conversation):
                planned[agent.agent_id] += 1  # its owner takes this slot: plan as it will
                continue
            waited = max(0.0, now - state.need.since.timestamp())
            reason = f"from the {state.need.team} queue after {waited:.0f}s ({how}): {agent.agent_id}"
            events.append(self._decide(self._event(
                ConversationEventType.ASSIGNED, conversation, state.need, agent.agent_id, reason, now
            ), log))  # fmt: skip
        return events

    # --- what people look at -----------------------------------------------------------

    def view(self, now: float) -> dict[str, object]:
        queues: dict[str, dict[str, float]] = {}
        for state in self.conversations.values():
            if state.agent_id is None:
                queue = queues.setdefault(state.need.team, {"waiting": 0, "oldest_seconds": 0.0})
                queue["waiting"] += 1
                queue["oldest_seconds"] = max(queue["oldest_seconds"], now - state.need.since.timestamp())
        agents = [
            {
                "agent_id": agent.agent_id,
                "name": agent.name,
                "status": str(agent.status),
                "teams": agent.teams,
                "open": self.load[agent.agent_id],
                "capacity": agent.capacity,
            }
            for agent in sorted(self.roster.values(), key=lambda a: a.agent_id)
        ]
        return {"agents": agents, "queues": queues}


def place_routed(
    book: AgentBook, message: RoutedMessage, now: float, log: DecisionLog, assigner: bool = True
) -> tuple[RoutedMessage, list[ConversationEvent]]:
    """The routed message with its agent (or its place in the queue), and the events to publish.

    A message with no response clock (spam, the brand's own posts) waits for nobody."""
    if message.routing.first_response_due_at is None or not book.roster:
        return message, []
    placement = book.place(message.conversation_id, need_of(message, now), now, message.message_id, log, assigner)
    reasons = [*message.routing.reasons, f"agent: {placement.reason}"]
    routing = message.routing.model_copy(
        update={"agent_id": placement.agent_id, "queued_reason": placement.queued_reason, "reasons": reasons}
    )
    return message.model_copy(update={"routing": routing}), placement.events
