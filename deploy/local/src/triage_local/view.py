"""The live terminal view of `make run`: what flows through the pipeline, per message
and per lane. ``follow`` reads the output topics; ``render`` draws one frame."""

import asyncio
import contextlib
import json
import sys
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import ValidationError
from rich.console import Group
from rich.table import Table
from rich.text import Text

from triage_local.board import Board
from triage_runtime.kafka import KafkaSettings
from triage_runtime.topics import TopicSettings
from triage_schemas import Agent, ConversationEvent, RoutedMessage, SlaAlert, SurgeAlert, parse_record

STATE_STYLE = {
    "running": "cyan",
    "answered": "green",
    "answered late": "yellow",
    "warning": "yellow",
    "BREACH": "bold red",
    "ESCALATED": "bold magenta",
    "no clock": "dim",
    "resolved": "green",
}
PRIORITY_STYLE = {"P1": "bold red", "P2": "yellow", "P3": "white"}


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def render(board: Board, now: datetime, footer: str = "") -> Group:
    messages = Table(title="Latest messages", expand=True)
    for column in ("time", "platform", "lane", "priority", "issue type", "owner", "tier", "agent", "clock"):
        messages.add_column(column)
    for row in board.recent:
        state = board.state_of(row.conversation_id)
        messages.add_row(
            row.at.strftime("%H:%M:%S"),
            row.platform,
            row.lane,
            Text(row.priority, style=PRIORITY_STYLE.get(row.priority, "")),
            row.issue_type,
            row.owner,
            str(row.tier),
            Text(row.agent, style="dim" if row.agent == "queued" else ""),
            Text(state, style=STATE_STYLE.get(state, "")),
        )
    lanes = Table(title="Lanes", expand=True)
    for column in ("lane", "backlog", "oldest unanswered", "median first response", "breaches"):
        lanes.add_column(column)
    for summary in board.lanes(now):
        lanes.add_row(
            summary.lane.value,
            str(summary.backlog),
            _duration(summary.oldest_unanswered_seconds),
            _duration(summary.median_first_response_seconds),
            Text(str(summary.breaches), style="bold red" if summary.breaches else ""),
        )
    agents = Table(title="Agents", expand=True)
    for column in ("agent", "status", "teams", "open / capacity"):
        agents.add_column(column)
    for agent in sorted(board.agents.values(), key=lambda a: a.agent_id):
        full = len(agent.open) >= agent.capacity
        agents.add_row(
            agent.name,
            Text(agent.status, style={"online": "green", "away": "yellow"}.get(agent.status, "dim")),
            ", ".join(agent.teams),
            Text(f"{len(agent.open)} / {agent.capacity}", style="bold" if full else ""),
        )
    surges = Table(title="Surges", expand=True)
    for column in ("since", "kind", "where", "messages", "expected", "driven by"):
        surges.add_column(column)
    for alert in sorted(board.surges.values(), key=lambda a: a.at, reverse=True):
        ended = alert.kind.value == "surge_resolved"
        surges.add_row(
            alert.at.strftime("%H:%M:%S"),
            Text("ended" if ended else alert.kind.value.upper(), style="green" if ended else "bold red"),
            f"{alert.dimension.value} {alert.value}",
            str(alert.count),
            f"{alert.expected:g}",
            ", ".join(f"{t.issue_type.value} {t.count}" for t in alert.top_issue_types),
        )
    queues = board.queues()
    waiting = " · ".join(f"{team} {n} waiting" for team, n in sorted(queues.items())) or "nobody waiting for an agent"
    counts = board.counts
    totals = Text(
        f"routed {counts['routed']} · agent replies {counts['replies']} · SLA alerts {counts['alerts']}"
        f" · surges {counts.get('surges', 0)}"
    )
    shown = [messages, lanes, agents, Text(waiting)] if board.agents else [messages, lanes]
    if board.surges:
        shown.append(surges)
    return Group(*shown, totals, Text(footer, style="dim"))


def status_line(board: Board, now: datetime) -> str:
    """One JSON line for a terminal that is not a TTY (logs, CI)."""
    return json.dumps(
        {
            "at": now.isoformat(timespec="seconds"),
            **board.counts,
            "lanes": {
                s.lane.value: {
                    "backlog": s.backlog,
                    "breaches": s.breaches,
                    "median_first_response_s": s.median_first_response_seconds,
                }
                for s in board.lanes(now)
            },
            "surges": [f"{a.dimension.value}:{a.value}" for a in board.open_surges()],
            "agents": {
                "online": sum(1 for a in board.agents.values() if a.status == "online"),
                "open": sum(len(a.open) for a in board.agents.values()),
                "waiting": sum(board.queues().values()),
            },
        }
    )


async def latest_consumer(kafka: KafkaSettings, *topic_names: str) -> AIOKafkaConsumer:
    """A started consumer (no group) positioned at the current end of every partition of the
    topics, so it sees exactly what is published after this returns."""
    admin = AIOKafkaAdminClient(**kafka.admin_client_kwargs())
    await admin.start()
    try:
        described = await admin.describe_topics(list(topic_names))
    finally:
        await admin.close()
    missing = [t["topic"] for t in described if t.get("error_code") or not t.get("partitions")]
    if missing:
        raise RuntimeError(f"topics not found: {', '.join(missing)} (create them with `make topics`)")
    partitions = [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]
    consumer = AIOKafkaConsumer(
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="latest",
        **{k: v for k, v in kafka.admin_client_kwargs().items() if k != "request_timeout_ms"},
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        for partition in partitions:
            await consumer.position(partition)
    except BaseException:
        await consumer.stop()
        raise
    return consumer


async def follow(
    kafka: KafkaSettings,
    topics: TopicSettings,
    board: Board,
    ready: asyncio.Event,
) -> None:
    """Feed the board from the output topics until cancelled."""
    consumer = await latest_consumer(kafka, topics.routed, topics.conversation_events, topics.sla_alerts)
    roster = await latest_consumer(kafka, topics.agents)
    for tp in roster.assignment():  # the roster from its beginning: who is on shift already
        await roster.seek_to_beginning(tp)
    try:
        ready.set()
        while True:
            for records in (await roster.getmany(timeout_ms=0)).values():
                for record in records:
                    if record.value is not None:
                        with contextlib.suppress(ValidationError):
                            board.add_agent(Agent.model_validate_json(record.value))
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    try:
                        parsed = parse_record(record.value)
                    except ValidationError:
                        continue  # not ours to judge: the stages dead-letter bad records
                    if isinstance(parsed, RoutedMessage):
                        board.add_routed(parsed)
                    elif isinstance(parsed, ConversationEvent):
                        board.add_event(parsed)
                    elif isinstance(parsed, SurgeAlert):
                        board.add_surge(parsed)
                    elif isinstance(parsed, SlaAlert):
                        board.add_alert(parsed)
                        if not sys.stdout.isatty():
                            print(
                                json.dumps(
                                    {"alert": parsed.kind.value, "lane": parsed.lane.value, "owner": parsed.owner}
                                ),
                                flush=True,
                            )
    finally:
        await consumer.stop()
        await roster.stop()


def utcnow() -> datetime:
    return datetime.now(UTC)
