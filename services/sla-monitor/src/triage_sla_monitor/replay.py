"""Offline replay: routed messages and conversation events through the clock in virtual time.

Answers "with these targets and open hours, how many breaches would last week have
had?": inputs are ordered by their own timestamps (not file order, which mixes
topics), the clocks run exactly as in the service (calendars, reply windows, next
response, resolution, reminders), every alert carries the virtual time at which it fell
due, and a summary per lane closes the run. ``compare`` puts two summaries side by side.
"""

import json
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from pydantic import ValidationError

from triage_runtime.jsonlines import (
    LineError,
    LineReport,
    Source,
    read_json_lines,
    record_type_error,
    validation_summary,
)
from triage_schemas.enums import ActorKind, AlertKind, ConversationEventType, Direction, ResponseKind, SentimentLabel
from triage_schemas.policy import ClockPolicy
from triage_schemas.records import ConversationEvent, RoutedMessage, parse_record
from triage_sla_monitor.clock import Alert, Answered, Facts, Outcome, Resolved
from triage_sla_monitor.inputs import alert_record, clock_store, epoch, fact_of, is_reply, subject_of, window_deadline
from triage_sla_monitor.surges import Signal, SurgeDetector, planned_by

COUNTED = {
    AlertKind.WARNING: "warnings",
    AlertKind.BREACH: "breaches",
    AlertKind.ESCALATION: "escalations",
    AlertKind.WINDOW_CLOSING: "windows_closing",
    AlertKind.RESOLUTION_WARNING: "resolution_warnings",
    AlertKind.RESOLUTION_BREACH: "resolution_breaches",
    AlertKind.FOLLOW_UP_DUE: "follow_ups_due",
    AlertKind.CLOSURE_NOTE_DUE: "closure_notes_due",
}


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


@dataclass
class LaneSummary:
    answered: int = 0
    within_target: int = 0
    automated_replies: int = 0
    resolved: int = 0
    alerts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTED.values(), 0))
    first_responses: list[float] = field(default_factory=list)
    next_responses: list[float] = field(default_factory=list)
    resolutions: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "answered": self.answered,
            "answered_within_target": self.within_target,
            "automated_replies": self.automated_replies,
            "median_first_response_seconds": _median(self.first_responses),
            "median_next_response_seconds": _median(self.next_responses),
            "resolved": self.resolved,
            "median_resolution_seconds": _median(self.resolutions),
            **self.alerts,
        }


Input = tuple[float, int, RoutedMessage | ConversationEvent]


def read_inputs(source: Source, report: LineReport) -> list[Input]:
    """Routed messages and events to replay, in time order; other record types pass
    through, every unusable line is reported once."""
    inputs: list[Input] = []
    for line in read_json_lines(source):
        if isinstance(line, LineError):
            report.reject(line)
            continue
        problem = record_type_error(line.value)
        if problem is not None:
            report.reject(LineError(line.number, problem))
            continue
        try:
            record = parse_record(line.text)
        except ValidationError as error:
            report.reject(
                LineError(line.number, f"not a valid {line.value['record_type']}: {validation_summary(error)}")
            )
            continue
        if isinstance(record, RoutedMessage | ConversationEvent):
            moment = record.created_at if isinstance(record, RoutedMessage) else record.at
            try:
                at = epoch(moment)
            except (OverflowError, ValueError, OSError) as error:
                report.reject(LineError(line.number, f"timestamp {moment} cannot be replayed: {error}"))
                continue
            inputs.append((at, line.number, record))
        else:
            report.pass_through(line)
    inputs.sort(key=lambda item: (item[0], item[1]))
    return inputs


class Replay:
    """One run over a recorded stream with one policy."""

    def __init__(self, policy: ClockPolicy, report: LineReport) -> None:
        self.policy = policy
        self.report = report
        self.store = clock_store(policy)
        self.lanes: dict[str, LaneSummary] = defaultdict(LaneSummary)
        # The line whose message started each conversation's clock answers for its alerts:
        # an alert that cannot be written (due past the last representable time) is its error.
        self.started_by: dict[str, int] = {}
        self.failed: set[int] = set()
        self.surges = SurgeDetector(policy.sla.surges, planned_by(policy.sla.campaigns))
        self.surge_signals: list[Signal] = []

    def emit_alerts(self, now: float) -> None:
        for alert in self.store.fire(now, virtual=True):
            self._emit(alert)

    def _emit(self, alert: Alert) -> None:
        number = self.started_by.get(alert.conversation_id, 0)
        try:
            record = alert_record(alert)
        except (OverflowError, ValueError, OSError) as error:
            reason = validation_summary(error) if isinstance(error, ValidationError) else str(error)
            if number not in self.failed:
                self.failed.add(number)
                self.report.reject(LineError(number, f"its {alert.kind.value} alert cannot be written: {reason}"))
            return
        if number in self.failed or not self.report.write(number, [record]):
            self.failed.add(number)
            return
        self.lanes[alert.subject.lane].alerts[COUNTED[alert.kind]] += 1

    def count(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            summary = self.lanes[outcome.subject.lane]
            if isinstance(outcome, Answered):
                if outcome.response is ResponseKind.NEXT:
                    summary.next_responses.append(outcome.first_response_seconds)
                    continue
                summary.answered += 1
                summary.first_responses.append(outcome.first_response_seconds)
                if outcome.first_response_seconds <= outcome.subject.target_seconds:
                    summary.within_target += 1
            elif isinstance(outcome, Resolved):
                summary.resolved += 1
                summary.resolutions.append(outcome.resolution_seconds)

    def apply(self, at: float, number: int, record: RoutedMessage | ConversationEvent) -> None:
        store, cid = self.store, record.conversation_id
        if isinstance(record, RoutedMessage):
            if record.routing.corrected_by is not None:
                store.reclassify(cid, subject_of(record, self.policy))
                return
            if is_reply(record):
                if record.actor_kind is ActorKind.AUTOMATION:
                    self.lanes[record.classification.lane.value].automated_replies += 1
                    return
                self.count(store.event(cid, Facts.REPLY, at)[1])
                return
            if record.direction is Direction.INBOUND:
                c = record.classification
                self.surge_signals.extend(self.surges.observe(
                    at, str(c.lane), str(record.platform), c.issue_type, c.sentiment.label is SentimentLabel.NEGATIVE
                ))  # fmt: skip
            subject = subject_of(record, self.policy)
            deadline = window_deadline(record, self.policy.sla.reply_windows.margin, self.policy.sla)
            clock, outcomes = store.customer_message(cid, at, subject, deadline)
            if clock.running() and clock.started_at == at:
                self.started_by[cid] = number
            self.count(outcomes)
            return
        fact = fact_of(record)
        if fact is None:
            if record.type is ConversationEventType.AGENT_REPLIED:  # an automated reply: counted, no clock
                known = store.clocks.get(cid)
                if known is not None and known.subject is not None:
                    self.lanes[known.subject.lane].automated_replies += 1
            return
        self.count(store.event(cid, fact, at)[1])


def replay(
    policy: ClockPolicy, source: Source, out: TextIO, err: TextIO, until: float | None = None
) -> dict[str, object]:
    report = LineReport(out, err)
    inputs = read_inputs(source, report)
    run = Replay(policy, report)
    for at, number, record in inputs:
        if until is not None and at > until:
            break
        run.emit_alerts(at)
        run.apply(at, number, record)
    # without --until, clocks still open at the end run to their last alert
    run.emit_alerts(until if until is not None else math.inf)
    report.flush()
    return {
        "policy_version": policy.version,
        "inputs": len(inputs),
        "bad_lines": report.rejected,
        "lanes": {lane: run.lanes[lane].as_dict() for lane in sorted(run.lanes)},
        "surges": [signal_summary(signal) for signal in run.surge_signals],
    }


def signal_summary(signal: Signal) -> dict[str, object]:
    """A surge signal as the replay summary shows it, in the stream's time."""
    return {
        "kind": signal.kind,
        "dimension": f"{signal.dimension[0]}={signal.dimension[1]}",
        "count": signal.count,
        "expected": round(signal.expected, 1),
        "window_start": datetime.fromtimestamp(signal.window_start, UTC).isoformat(),
        "at": datetime.fromtimestamp(signal.at, UTC).isoformat(),
        "top": [f"{name} {n}" for name, n in signal.top],
    }


def print_summary(summary: dict[str, object], err: TextIO) -> None:
    err.write(json.dumps({"summary": summary}, sort_keys=True) + "\n")


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """Per lane and figure: the value under A, under B, and B minus A."""
    rows: list[dict[str, Any]] = []
    lanes_a, lanes_b = a.get("lanes", {}), b.get("lanes", {})
    for lane in sorted(set(lanes_a) | set(lanes_b)):
        figures_a, figures_b = lanes_a.get(lane, {}), lanes_b.get(lane, {})
        for figure in sorted(set(figures_a) | set(figures_b)):
            value_a, value_b = figures_a.get(figure), figures_b.get(figure)
            delta = value_b - value_a if isinstance(value_a, int | float) and isinstance(value_b, int | float) else None
            rows.append({"lane": lane, "figure": figure, "a": value_a, "b": value_b, "change": delta})
    return rows


def format_comparison(rows: list[dict[str, Any]], label_a: str, label_b: str) -> str:
    def show(value: Any) -> str:
        if value is None:
            return "-"
        return f"{value:,.1f}" if isinstance(value, float) else f"{value:,}"

    lines = [f"{'lane':<10} {'figure':<32} {label_a[:14]:>14} {label_b[:14]:>14} {'change':>10}"]
    for row in rows:
        change = row["change"]
        shown = "" if change in (None, 0) else ("+" if change > 0 else "") + show(change)
        lines.append(f"{row['lane']:<10} {row['figure']:<32} {show(row['a']):>14} {show(row['b']):>14} {shown:>10}")
    return "\n".join(lines)
