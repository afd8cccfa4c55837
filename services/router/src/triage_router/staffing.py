"""Assignment over a recorded stream, in the stream's own time: a staffing plan tried on
last week's traffic (``triage-router route --agents FILE.yaml``)."""

import math
from collections import Counter
from dataclasses import dataclass, field

from triage_router.assignment import AgentBook, DecisionLog, place_routed
from triage_schemas.enums import ConversationEventType
from triage_schemas.records import Agent, ConversationEvent, RoutedMessage


def _all(_: str) -> bool:
    return True  # one process replays the whole stream: it owns every conversation


@dataclass
class StaffingReplay:
    book: AgentBook
    assigned: Counter[str] = field(default_factory=Counter)
    peak: Counter[str] = field(default_factory=Counter)
    waits: list[float] = field(default_factory=list)
    queued: int = 0

    def routed(self, message: RoutedMessage) -> tuple[RoutedMessage, list[ConversationEvent]]:
        now = message.received_at.timestamp()
        events = self._reconcile(now)
        log: DecisionLog = []
        message, placed = place_routed(self.book, message, now, log)
        self.book.acknowledged(log)
        self._count(placed)
        return message, [*events, *placed]

    def event(self, event: ConversationEvent) -> list[ConversationEvent]:
        self.book.apply_event(event)
        return self._reconcile(event.at.timestamp())

    def agent(self, agent: Agent) -> list[ConversationEvent]:
        self.book.apply_agent(agent.agent_id, agent)
        return self._reconcile(agent.updated_at.timestamp())

    def _reconcile(self, now: float) -> list[ConversationEvent]:
        log: DecisionLog = []
        events = self.book.reconcile(_all, now, log)
        self.book.acknowledged(log)
        self._count(events)
        return events

    def _count(self, events: list[ConversationEvent]) -> None:
        for event in events:
            if event.type == ConversationEventType.ASSIGNED and event.agent_id is not None and event.need is not None:
                self.assigned[event.agent_id] += 1
                self.peak[event.agent_id] = max(self.peak[event.agent_id], self.book.load[event.agent_id])
                self.waits.append(max(0.0, event.at.timestamp() - event.need.since.timestamp()))
            elif event.type == ConversationEventType.UNASSIGNED and event.agent_id is None:
                self.queued += 1

    def summary(self) -> list[str]:
        lines = ["agent                 assigned   peak open   capacity   open at end"]
        for agent_id, agent in sorted(self.book.roster.items()):
            lines.append(
                f"{agent_id:<20} {self.assigned[agent_id]:>9} {self.peak[agent_id]:>11} {agent.capacity:>10} "
                f"{self.book.load[agent_id]:>13}"
            )
        waiting = [s for s in self.book.conversations.values() if s.agent_id is None]
        waits = sorted(self.waits)

        def at(q: float) -> str:
            return f"{waits[min(len(waits) - 1, math.ceil(q * len(waits)) - 1)] / 60:.1f} min" if waits else "-"

        lines.append(
            f"queue: {self.queued} conversations waited; wait for an agent p50 {at(0.5)}, p90 {at(0.9)}, "
            f"max {at(1.0)}; {len(waiting)} still waiting at the end"
        )
        return lines
