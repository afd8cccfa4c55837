"""The response and resolution clocks: one per conversation, driven by an injected time.

No Kafka and no wall clock in here: callers pass every timestamp (epoch seconds), so
the service, the offline replay and the tests run the same rules.

Rules (``triage-spec.md``, "The SLA clock"):
- a routed inbound message starts the response clock unless one is already running; a
  later customer message does not restart it, an earlier one (arriving late) moves the
  start back. A customer message after an agent reply starts a *next-response* clock
  with its own target (default: the first-response one);
- the first human agent reply stops it (an outbound message or an ``agent_replied``
  event), even when the reply arrives before the routed message it answers. Automated
  replies are not facts for the clock at all (see ``inputs``);
- targets count the subject's calendar's open hours (``business_time``), or wall time
  without one; paused time does not count. A platform reply window caps the deadline:
  every response alert falls due no later than the window's close minus the margin, and
  an unanswered conversation gets one ``window_closing`` alert then;
- the resolution clock runs from the first customer message of an open conversation
  to ``resolved`` (warning and breach at the same fractions); ``reopened`` starts both
  clocks again;
- after a human reply, a customer quiet for ``follow_up_after`` gets one follow-up
  reminder; a public conversation that was moved to DM gets a closure-note reminder
  when it is resolved;
- every alert fires once per conversation and clock, however often the inputs are
  redelivered (``alerts_sent`` is part of the persisted state).
"""

import heapq
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from triage_schemas.business_time import Calendar, add_seconds, seconds_between
from triage_schemas.enums import AlertKind, ResponseKind
from triage_schemas.policy import AlertFractions

# Which bit of ``Clock.alerts_sent`` records each alert, fixed here (persisted state
# depends on it, so it must never follow the enum's declaration order).
BIT: dict[AlertKind, int] = {
    AlertKind.WARNING: 1 << 0,
    AlertKind.BREACH: 1 << 1,
    AlertKind.ESCALATION: 1 << 2,
    AlertKind.WINDOW_CLOSING: 1 << 3,
    AlertKind.RESOLUTION_WARNING: 1 << 4,
    AlertKind.RESOLUTION_BREACH: 1 << 5,
    AlertKind.FOLLOW_UP_DUE: 1 << 6,
    AlertKind.CLOSURE_NOTE_DUE: 1 << 7,
}
RESPONSE_KINDS: tuple[AlertKind, ...] = (AlertKind.WARNING, AlertKind.BREACH, AlertKind.ESCALATION)
KINDS = RESPONSE_KINDS  # the response alerts, in the order they fall due
# What a new response clock forgets; the resolution alerts belong to the whole opening.
RESPONSE_BITS = sum(BIT[k] for k in (*RESPONSE_KINDS, AlertKind.WINDOW_CLOSING, AlertKind.FOLLOW_UP_DUE))
BREACHED = BIT[AlertKind.BREACH] | BIT[AlertKind.ESCALATION]
"""Alerts that paged: a reply afterwards resolves them in Alertmanager."""


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
    calendar: str | None = None
    next_target_seconds: int | None = None
    resolution_target_seconds: int | None = None
    moved_to_dm: bool = False


@dataclass(slots=True)
class Clock:
    """One conversation's clocks; small on purpose, a million of them must fit in 1 GiB."""

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
    next_response: bool = False
    opened_at: float | None = None
    window_deadline: float | None = None
    traceparent: str | None = None
    """The W3C traceparent of the routed message that started this clock, when tracing is
    on: its alerts continue that message's trace (see ``timers``)."""

    def running(self) -> bool:
        return (
            self.subject is not None
            and self.started_at is not None
            and self.answered_at is None
            and self.resolved_at is None
        )

    @property
    def response(self) -> ResponseKind:
        return ResponseKind.NEXT if self.next_response else ResponseKind.FIRST

    def target(self) -> int:
        assert self.subject is not None
        if self.next_response and self.subject.next_target_seconds is not None:
            return self.subject.next_target_seconds
        return self.subject.target_seconds


@dataclass(frozen=True, slots=True)
class Alert:
    conversation_id: str
    clock_number: int
    kind: AlertKind
    subject: Subject
    due_at: float
    elapsed_seconds: float
    at: float
    target_seconds: int
    response: ResponseKind | None = None
    traceparent: str | None = None  # the clock's, when tracing is on

    @property
    def alert_id(self) -> str:
        # deterministic so a republished alert is recognisable downstream
        return f"{self.conversation_id}:{self.clock_number}:{self.kind.value}"


@dataclass(frozen=True, slots=True)
class Answered:
    """A response clock stopped by a human reply: the response-time metrics' input."""

    subject: Subject
    first_response_seconds: float
    response: ResponseKind = ResponseKind.FIRST


@dataclass(frozen=True, slots=True)
class Resolved:
    subject: Subject
    resolution_seconds: float


Outcome = Answered | Resolved


class ClockStore:
    """Every open clock plus a heap of the next due time; ``fire(now)`` emits due alerts."""

    def __init__(
        self,
        fractions: AlertFractions,
        calendars: Mapping[str, Calendar] | None = None,
        follow_up_after: float | None = None,
    ) -> None:
        self.fractions = (fractions.warning, fractions.breach, fractions.escalation)
        self.calendars = dict(calendars or {})
        self.follow_up_after = follow_up_after
        self.clocks: dict[str, Clock] = {}
        # (due time, conversation id, clock number): stale entries are skipped when popped
        self._heap: list[tuple[float, str, int]] = []

    def __len__(self) -> int:
        return len(self.clocks)

    # --- counting ---------------------------------------------------------------------

    def calendar(self, clock: Clock) -> Calendar | None:
        name = clock.subject.calendar if clock.subject is not None else None
        return self.calendars.get(name) if name else None

    def elapsed(self, clock: Clock, now: float) -> float:
        """Counted seconds of the response clock at ``now`` (or at the reply, when answered)."""
        if clock.started_at is None:
            return 0.0
        end = clock.answered_at if clock.answered_at is not None else now
        if clock.resolved_at is not None and clock.answered_at is None:
            end = min(end, clock.resolved_at)
        calendar = self.calendar(clock)
        paused = clock.paused_total
        if clock.paused_since is not None:
            paused += seconds_between(calendar, max(clock.paused_since, clock.started_at), end)
        return max(0.0, seconds_between(calendar, clock.started_at, end) - paused)

    def response_due(self, clock: Clock, fraction: float) -> float | None:
        """When the response clock reaches ``fraction`` of its target, if it keeps running unpaused."""
        if not clock.running() or clock.paused_since is not None:
            return None
        assert clock.started_at is not None
        due = add_seconds(self.calendar(clock), clock.started_at, clock.paused_total + fraction * clock.target())
        if clock.window_deadline is not None:
            # The platform will not let the brand answer after the window: squeeze every
            # fraction into the time that is left, so the breach falls at the deadline.
            room = max(0.0, clock.window_deadline - clock.started_at)
            due = min(due, clock.started_at + fraction * room)
        return due

    def _timers(self, clock: Clock) -> list[tuple[AlertKind, float, int]]:
        """Every alert still to fire on this clock: (kind, due time, target seconds)."""
        subject = clock.subject
        if subject is None:
            return []
        timers: list[tuple[AlertKind, float, int]] = []
        sent = clock.alerts_sent
        for kind, fraction in zip(RESPONSE_KINDS, self.fractions, strict=True):
            if not sent & BIT[kind]:
                due = self.response_due(clock, fraction)
                if due is not None:
                    timers.append((kind, due, clock.target()))
                break  # each response alert waits for the one before it
        unanswered = clock.running()
        if unanswered and clock.window_deadline is not None and not sent & BIT[AlertKind.WINDOW_CLOSING]:
            timers.append((AlertKind.WINDOW_CLOSING, clock.window_deadline, clock.target()))
        if clock.resolved_at is None and clock.opened_at is not None and subject.resolution_target_seconds:
            target = subject.resolution_target_seconds
            for kind, fraction in ((AlertKind.RESOLUTION_WARNING, self.fractions[0]),
                                   (AlertKind.RESOLUTION_BREACH, self.fractions[1])):  # fmt: skip
                if not sent & BIT[kind]:
                    timers.append((kind, add_seconds(self.calendar(clock), clock.opened_at, fraction * target), target))
                    break
        if (
            self.follow_up_after is not None
            and clock.resolved_at is None
            and clock.answered_at is not None
            and clock.started_at is not None
            and clock.answered_at >= clock.started_at
            and not sent & BIT[AlertKind.FOLLOW_UP_DUE]
        ):
            timers.append((AlertKind.FOLLOW_UP_DUE, clock.answered_at + self.follow_up_after, clock.target()))
        if clock.resolved_at is not None and subject.moved_to_dm and not sent & BIT[AlertKind.CLOSURE_NOTE_DUE]:
            timers.append((AlertKind.CLOSURE_NOTE_DUE, clock.resolved_at, clock.target()))
        return timers

    def _next_due(self, clock: Clock) -> float | None:
        dues = [due for _, due, _ in self._timers(clock) if not math.isinf(due)]
        return min(dues) if dues else None

    def finished(self, clock: Clock) -> bool:
        """Resolved with no reminder left to send: the clock can be forgotten."""
        return clock.resolved_at is not None and self._next_due(clock) is None

    # --- the store --------------------------------------------------------------------

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
            if clock is not None and clock.number == number and self._next_due(clock) == due:
                return due
            heapq.heappop(self._heap)
        return None

    def _schedule(self, clock: Clock) -> None:
        due = self._next_due(clock)
        if due is not None:
            heapq.heappush(self._heap, (due, clock.conversation_id, clock.number))

    def customer_message(
        self,
        conversation_id: str,
        at: float,
        subject: Subject | None,
        window_deadline: float | None = None,
        traceparent: str | None = None,
    ) -> tuple[Clock, list[Outcome]]:
        """A routed inbound message; ``subject`` None means no clock (spam).
        ``window_deadline``: the platform's reply window close minus the margin;
        ``traceparent``: the message's trace, kept by the clock it starts."""
        clock = self.get(conversation_id)
        outcomes: list[Outcome] = []
        if subject is None:
            return clock, outcomes
        if clock.resolved_at is not None and at > clock.resolved_at:
            self._new_clock(clock, at, reopened=True)
        if clock.started_at is None:
            clock.started_at = at
            clock.subject = subject
            if clock.answered_at is not None:
                if clock.answered_at >= at:
                    # the reply arrived first; now we know what it answered
                    outcomes.append(Answered(subject, self.elapsed(clock, clock.answered_at), clock.response))
                else:
                    clock.answered_at = None  # that reply answered an earlier message
        elif clock.answered_at is not None and at > clock.answered_at:
            self._new_clock(clock, at, reopened=False)
            clock.subject = subject
        elif at < clock.started_at and clock.answered_at is None:
            clock.started_at = at  # an earlier customer message delivered late
        if clock.subject is None:
            clock.subject = subject
        if clock.opened_at is None or at < clock.opened_at:
            clock.opened_at = at
        if window_deadline is not None and (clock.window_deadline is None or window_deadline > clock.window_deadline):
            clock.window_deadline = window_deadline  # each customer message opens the window again
        if clock.traceparent is None:
            clock.traceparent = traceparent  # the message that started this clock
        self._schedule(clock)
        return clock, outcomes

    def reclassify(self, conversation_id: str, subject: Subject | None) -> Clock | None:
        """A person corrected the classification and the router routed the message again:
        the open clock takes the new lane, priority, owner and targets, still counted from
        when the customer wrote (a shorter target may be due at once); alerts already sent
        stay sent. None when there is no open clock to correct."""
        clock = self.clocks.get(conversation_id)
        if clock is None or subject is None or clock.subject is None or clock.resolved_at is not None:
            return None
        clock.subject = subject
        self._schedule(clock)
        return clock

    def _new_clock(self, clock: Clock, at: float, *, reopened: bool) -> None:
        clock.number += 1
        clock.started_at = at
        clock.answered_at = None
        clock.paused_since = None
        clock.paused_total = 0.0
        clock.window_deadline = None
        clock.traceparent = None
        clock.next_response = not reopened
        if reopened:
            clock.resolved_at = None
            clock.opened_at = at
            clock.alerts_sent = 0
        else:
            clock.alerts_sent &= ~RESPONSE_BITS

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
                    outcomes.append(Answered(clock.subject, self.elapsed(clock, at), clock.response))
        elif fact is Facts.PAUSE:
            if clock.paused_since is None and at > clock.last_pause_change:
                clock.paused_since = at
                clock.last_pause_change = at
        elif fact is Facts.RESUME:
            if clock.paused_since is not None and at >= clock.paused_since:
                start = clock.paused_since if clock.started_at is None else max(clock.paused_since, clock.started_at)
                clock.paused_total += seconds_between(self.calendar(clock), start, at)
                clock.paused_since = None
                clock.last_pause_change = at
        elif fact is Facts.RESOLVE:
            if clock.resolved_at is None:
                clock.resolved_at = at
                opened = clock.opened_at if clock.opened_at is not None else clock.started_at
                if clock.subject is not None and opened is not None:
                    outcomes.append(Resolved(clock.subject, max(0.0, at - opened)))
        elif fact is Facts.REOPEN and clock.resolved_at is not None and at >= clock.resolved_at:
            self._new_clock(clock, at, reopened=True)
        self._schedule(clock)
        return clock, outcomes

    def fire(self, now: float, *, virtual: bool = False) -> list[Alert]:
        """Every alert due at or before ``now``, each marked sent before it is returned.

        Live, an alert's ``at`` is ``now`` (when it was really sent); in virtual time
        (``replay``) it is the moment it fell due."""
        alerts: list[Alert] = []
        while True:
            due = self.next_due()
            if due is None or due > now:
                return alerts
            _, cid, _ = heapq.heappop(self._heap)
            clock = self.clocks[cid]
            assert clock.subject is not None
            while True:
                ready = sorted(
                    (d, kind, target) for kind, d, target in self._timers(clock) if d <= now and not math.isinf(d)
                )
                if not ready:
                    break
                kind_due, kind, target = ready[0]
                clock.alerts_sent |= BIT[kind]
                emitted = kind_due if virtual or not math.isfinite(now) else now
                response = clock.response if kind in RESPONSE_KINDS else None
                elapsed = self._elapsed_for(clock, kind, kind_due)
                alert = Alert(cid, clock.number, kind, clock.subject, kind_due, elapsed, emitted, target, response)
                alerts.append(alert if clock.traceparent is None else replace(alert, traceparent=clock.traceparent))
            self._schedule(clock)

    def _elapsed_for(self, clock: Clock, kind: AlertKind, at: float) -> float:
        if kind in (AlertKind.RESOLUTION_WARNING, AlertKind.RESOLUTION_BREACH):
            assert clock.opened_at is not None
            return seconds_between(self.calendar(clock), clock.opened_at, at)
        if kind is AlertKind.FOLLOW_UP_DUE:
            assert clock.answered_at is not None
            return max(0.0, at - clock.answered_at)
        return self.elapsed(clock, at)
