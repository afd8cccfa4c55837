"""The first-response clock: one per conversation, driven by an injected time.

No Kafka and no wall clock in here: callers pass every timestamp (epoch seconds), so
the service, the offline replay and the tests run the same rules.

Rules (``triage-spec.md``, "The SLA clock"):
- a routed inbound message starts the clock unless one is already running; a later
  customer message does not restart it, an earlier one (arriving late) moves the start back;
- the first agent reply stops it (an outbound message or an ``agent_replied`` event),
  even when the reply arrives before the routed message it answers;
- paused time does not count; ``resolved`` closes the conversation, ``reopened`` starts
  a new clock;
- warning, breach and escalation fire once per conversation and clock, however often
  the inputs are redelivered (``alerts_sent`` is part of the persisted state).
"""

import heapq
import math
from dataclasses import dataclass
from enum import StrEnum

from triage_schemas.enums import AlertKind
from triage_schemas.policy import AlertFractions

KINDS: tuple[AlertKind, ...] = (AlertKind.WARNING, AlertKind.BREACH, AlertKind.ESCALATION)


class Facts(StrEnum):
    """What a conversation event tells the clock."""

    REPLY = "reply"
    PAUSE = "pause"
    RESUME = "resume"
    RESOLVE = "resolve"
    REOPEN = "reopen"


@dataclass(slots=True)
class Subject:
    """What an alert says about the conversation (from the routed record)."""

    lane: str
    priority: str
    issue_type: str
    owner: str
    tier: int
    platform: str
    channel: str
    target_seconds: int


@dataclass(slots=True)
class Clock:
    """One conversation's clock; small on purpose, a million of them must fit in 1 GiB."""

    conversation_id: str
    subject: Subject | None = None
    number: int = 0
    started_at: float | None = None
    answered_at: float | None = None
    paused_since: float | None = None
    paused_total: float = 0.0
    last_pause_change: float = float("-inf")
    alerts_sent: int = 0
    resolved_at: float | None = None

    def running(self) -> bool:
        return (
            self.subject is not None
            and self.started_at is not None
            and self.answered_at is None
            and self.resolved_at is None
        )

    def elapsed(self, now: float) -> float:
        """Counted seconds at ``now`` (or at the reply, when answered)."""
        if self.started_at is None:
            return 0.0
        end = self.answered_at if self.answered_at is not None else now
        if self.resolved_at is not None and self.answered_at is None:
            end = min(end, self.resolved_at)
        paused = self.paused_total
        if self.paused_since is not None:
            paused += max(0.0, end - max(self.paused_since, self.started_at))
        return max(0.0, end - self.started_at - paused)

    def due_at(self, fraction: float) -> float | None:
        """When the clock reaches ``fraction`` of its target, if it keeps running unpaused."""
        if not self.running() or self.paused_since is not None or self.subject is None:
            return None
        assert self.started_at is not None
        return self.started_at + self.paused_total + fraction * self.subject.target_seconds


@dataclass(frozen=True, slots=True)
class Alert:
    conversation_id: str
    clock_number: int
    kind: AlertKind
    subject: Subject
    due_at: float
    elapsed_seconds: float
    at: float

    @property
    def alert_id(self) -> str:
        # deterministic so a republished alert is recognisable downstream
        return f"{self.conversation_id}:{self.clock_number}:{self.kind.value}"


@dataclass(frozen=True, slots=True)
class Answered:
    """A clock stopped by its first reply: the first-response time metric's input."""

    subject: Subject
    first_response_seconds: float


@dataclass(frozen=True, slots=True)
class Resolved:
    subject: Subject
    resolution_seconds: float


Outcome = Answered | Resolved


class ClockStore:
    """Every open clock plus a heap of the next due time; ``fire(now)`` emits due alerts."""

    def __init__(self, fractions: AlertFractions) -> None:
        self.fractions = (fractions.warning, fractions.breach, fractions.escalation)
        self.clocks: dict[str, Clock] = {}
        # (due time, conversation id, clock number): stale entries are skipped when popped
        self._heap: list[tuple[float, str, int]] = []

    def __len__(self) -> int:
        return len(self.clocks)

    def get(self, conversation_id: str) -> Clock:
        clock = self.clocks.get(conversation_id)
        if clock is None:
            clock = self.clocks[conversation_id] = Clock(conversation_id)
        return clock

    def restore(self, clock: Clock) -> None:
        self.clocks[clock.conversation_id] = clock
        self._schedule(clock)

    def forget(self, conversation_id: str) -> None:
        self.clocks.pop(conversation_id, None)

    def next_due(self) -> float | None:
        while self._heap:
            due, cid, number = self._heap[0]
            clock = self.clocks.get(cid)
            if clock is not None and clock.number == number and self._next_kind_due(clock) == due:
                return due
            heapq.heappop(self._heap)
        return None

    def _next_kind_due(self, clock: Clock) -> float | None:
        for index, fraction in enumerate(self.fractions):
            if not clock.alerts_sent & (1 << index):
                return clock.due_at(fraction)
        return None

    def _schedule(self, clock: Clock) -> None:
        due = self._next_kind_due(clock)
        if due is not None:
            heapq.heappush(self._heap, (due, clock.conversation_id, clock.number))

    def customer_message(self, conversation_id: str, at: float, subject: Subject | None) -> tuple[Clock, list[Outcome]]:
        """A routed inbound message; ``subject`` None means no clock (spam)."""
        clock = self.get(conversation_id)
        outcomes: list[Outcome] = []
        if subject is None:
            return clock, outcomes
        if clock.resolved_at is not None and at > clock.resolved_at:
            self._new_clock(clock, at)
        if clock.started_at is None:
            clock.started_at = at
            clock.subject = subject
            if clock.answered_at is not None:
                if clock.answered_at >= at:
                    # the reply arrived first; now we know what it answered
                    outcomes.append(Answered(subject, clock.elapsed(clock.answered_at)))
                else:
                    clock.answered_at = None  # that reply answered an earlier message
        elif clock.answered_at is not None and at > clock.answered_at:
            self._new_clock(clock, at)
            clock.subject = subject
        elif at < clock.started_at and clock.answered_at is None:
            clock.started_at = at  # an earlier customer message delivered late
        if clock.subject is None:
            clock.subject = subject
        self._schedule(clock)
        return clock, outcomes

    def _new_clock(self, clock: Clock, at: float) -> None:
        clock.number += 1
        clock.started_at = at
        clock.answered_at = None
        clock.resolved_at = None
        clock.paused_since = None
        clock.paused_total = 0.0
        clock.alerts_sent = 0

    def event(self, conversation_id: str, fact: Facts, at: float) -> tuple[Clock, list[Outcome]]:
        clock = self.get(conversation_id)
        outcomes: list[Outcome] = []
        if fact is Facts.REPLY:
            if clock.started_at is not None and at < clock.started_at:
                return clock, outcomes  # a reply to an earlier, already answered message
            if clock.answered_at is None or at < clock.answered_at:
                first = clock.answered_at is None
                clock.answered_at = at
                if first and clock.subject is not None and clock.started_at is not None:
                    outcomes.append(Answered(clock.subject, clock.elapsed(at)))
        elif fact is Facts.PAUSE:
            if clock.paused_since is None and at > clock.last_pause_change:
                clock.paused_since = at
                clock.last_pause_change = at
        elif fact is Facts.RESUME:
            if clock.paused_since is not None and at >= clock.paused_since:
                start = clock.paused_since if clock.started_at is None else max(clock.paused_since, clock.started_at)
                clock.paused_total += max(0.0, at - start)
                clock.paused_since = None
                clock.last_pause_change = at
        elif fact is Facts.RESOLVE:
            if clock.resolved_at is None:
                clock.resolved_at = at
                if clock.subject is not None and clock.started_at is not None:
                    outcomes.append(Resolved(clock.subject, max(0.0, at - clock.started_at)))
        elif fact is Facts.REOPEN and clock.resolved_at is not None and at >= clock.resolved_at:
            self._new_clock(clock, at)
        self._schedule(clock)
        return clock, outcomes

    def fire(self, now: float) -> list[Alert]:
        """Every alert due at or before ``now``, each marked sent before it is returned."""
        alerts: list[Alert] = []
        while True:
            due = self.next_due()
            if due is None or due > now:
                return alerts
            _, cid, _ = heapq.heappop(self._heap)
            clock = self.clocks[cid]
            assert clock.subject is not None
            for index, fraction in enumerate(self.fractions):
                bit = 1 << index
                if clock.alerts_sent & bit:
                    continue
                kind_due = clock.due_at(fraction)
                if kind_due is None or kind_due > now:
                    break
                clock.alerts_sent |= bit
                # draining to infinity (offline replay) emits each alert at its own due time
                emitted = now if math.isfinite(now) else kind_due
                alerts.append(
                    Alert(cid, clock.number, KINDS[index], clock.subject, kind_due, clock.elapsed(kind_due), emitted)
                )
            self._schedule(clock)
