"""Offline replay: routed messages and conversation events through the clock in virtual time.

Answers "with these targets, how many breaches would last week have had?": inputs are
ordered by their own timestamps (not file order, which mixes topics), alerts fire at
the virtual time they fall due, and a summary per lane closes the run.
"""

import json
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TextIO

from pydantic import ValidationError

from triage_schemas.enums import AlertKind
from triage_schemas.jsonlines import (
    LineError,
    LineReport,
    Source,
    read_json_lines,
    record_type_error,
    validation_summary,
)
from triage_schemas.policy import SlaPolicy
from triage_schemas.records import ConversationEvent, RoutedMessage, parse_record
from triage_sla_monitor.clock import Answered, ClockStore, Facts, Outcome
from triage_sla_monitor.inputs import alert_record, epoch, fact_of, is_reply, subject_of


@dataclass
class LaneSummary:
    answered: int = 0
    within_target: int = 0
    warnings: int = 0
    breaches: int = 0
    escalations: int = 0
    first_responses: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        median = statistics.median(self.first_responses) if self.first_responses else None
        return {
            "answered": self.answered,
            "answered_within_target": self.within_target,
            "warnings": self.warnings,
            "breaches": self.breaches,
            "escalations": self.escalations,
            "median_first_response_seconds": median,
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


def replay(
    policy: SlaPolicy, source: Source, out: TextIO, err: TextIO, until: float | None = None
) -> dict[str, object]:
    report = LineReport(out, err)
    inputs = read_inputs(source, report)
    store = ClockStore(policy.alerts)
    lanes: dict[str, LaneSummary] = defaultdict(LaneSummary)
    # The line whose message started each conversation's clock answers for its alerts:
    # an alert that cannot be written (due past the last representable time) is its error.
    started_by: dict[str, int] = {}
    failed: set[int] = set()

    def emit_alerts(now: float) -> None:
        for alert in store.fire(now):
            number = started_by.get(alert.conversation_id, 0)
            try:
                record = alert_record(alert)
            except (OverflowError, ValueError, OSError) as error:
                reason = validation_summary(error) if isinstance(error, ValidationError) else str(error)
                if number not in failed:
                    failed.add(number)
                    report.reject(LineError(number, f"its {alert.kind.value} alert cannot be written: {reason}"))
                continue
            if number in failed or not report.write(number, [record]):
                failed.add(number)
                continue
            summary = lanes[alert.subject.lane]
            if alert.kind is AlertKind.WARNING:
                summary.warnings += 1
            elif alert.kind is AlertKind.BREACH:
                summary.breaches += 1
            elif alert.kind is AlertKind.ESCALATION:
                summary.escalations += 1

    def count(outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            if isinstance(outcome, Answered):
                summary = lanes[outcome.subject.lane]
                summary.answered += 1
                summary.first_responses.append(outcome.first_response_seconds)
                if outcome.first_response_seconds <= outcome.subject.target_seconds:
                    summary.within_target += 1

    for at, number, record in inputs:
        if until is not None and at > until:
            break
        emit_alerts(at)
        if isinstance(record, RoutedMessage):
            if is_reply(record):
                count(store.event(record.conversation_id, Facts.REPLY, at)[1])
            else:
                clock, outcomes = store.customer_message(record.conversation_id, at, subject_of(record, policy))
                if clock.running() and clock.started_at == at:
                    started_by[record.conversation_id] = number
                count(outcomes)
        else:
            fact = fact_of(record)
            if fact is not None:
                count(store.event(record.conversation_id, fact, at)[1])
    # without --until, clocks still open at the end run to their last alert
    emit_alerts(until if until is not None else math.inf)
    report.flush()
    return {
        "inputs": len(inputs),
        "bad_lines": report.rejected,
        "lanes": {lane: lanes[lane].as_dict() for lane in sorted(lanes)},
    }


def print_summary(summary: dict[str, object], err: TextIO) -> None:
    err.write(json.dumps({"summary": summary}, sort_keys=True) + "\n")
