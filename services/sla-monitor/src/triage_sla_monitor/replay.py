"""Offline replay: routed messages and conversation events through the clock in virtual time.

Answers "with these targets, how many breaches would last week have had?": inputs are
ordered by their own timestamps (not file order, which mixes topics), alerts fire at
the virtual time they fall due, and a summary per lane closes the run.
"""

import json
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TextIO

from pydantic import ValidationError

from triage_schemas.enums import AlertKind
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


def read_inputs(lines: Iterable[str], out: TextIO, err: TextIO) -> tuple[list[Input], int]:
    """Routed messages and events to replay; other record types pass through, bad lines are reported."""
    inputs: list[Input] = []
    bad = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = parse_record(line)
        except (ValidationError, ValueError) as exc:
            bad += 1
            first = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            err.write(f"line {number}: not a record: {first}\n")
            continue
        if isinstance(record, RoutedMessage):
            inputs.append((epoch(record.created_at), number, record))
        elif isinstance(record, ConversationEvent):
            inputs.append((epoch(record.at), number, record))
        else:
            out.write(line if line.endswith("\n") else line + "\n")
    inputs.sort(key=lambda item: (item[0], item[1]))
    return inputs, bad


def replay(
    policy: SlaPolicy, lines: Iterable[str], out: TextIO, err: TextIO, until: float | None = None
) -> dict[str, object]:
    inputs, bad = read_inputs(lines, out, err)
    store = ClockStore(policy.alerts)
    lanes: dict[str, LaneSummary] = defaultdict(LaneSummary)

    def emit_alerts(now: float) -> None:
        for alert in store.fire(now):
            out.write(alert_record(alert).model_dump_json() + "\n")
            summary = lanes[alert.subject.lane]
            if alert.kind is AlertKind.WARNING:
                summary.warnings += 1
            elif alert.kind is AlertKind.BREACH:
                summary.breaches += 1
            else:
                summary.escalations += 1

    def count(outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            if isinstance(outcome, Answered):
                summary = lanes[outcome.subject.lane]
                summary.answered += 1
                summary.first_responses.append(outcome.first_response_seconds)
                if outcome.first_response_seconds <= outcome.subject.target_seconds:
                    summary.within_target += 1

    for at, _, record in inputs:
        if until is not None and at > until:
            break
        emit_alerts(at)
        if isinstance(record, RoutedMessage):
            if is_reply(record):
                count(store.event(record.conversation_id, Facts.REPLY, at)[1])
            else:
                count(store.customer_message(record.conversation_id, at, subject_of(record, policy))[1])
        else:
            fact = fact_of(record)
            if fact is not None:
                count(store.event(record.conversation_id, fact, at)[1])
    # without --until, clocks still open at the end run to their last alert
    emit_alerts(until if until is not None else math.inf)
    return {
        "inputs": len(inputs),
        "bad_lines": bad,
        "lanes": {lane: lanes[lane].as_dict() for lane in sorted(lanes)},
    }


def print_summary(summary: dict[str, object], err: TextIO) -> None:
    err.write(json.dumps({"summary": summary}, sort_keys=True) + "\n")
