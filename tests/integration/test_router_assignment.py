"""Agent assignment on the real broker, with two router replicas in one consumer group.

The test plays the agents' help desk: it resolves assigned conversations while they keep
arriving, so the queue fills and drains; mid-stream it kills the assigner with SIGKILL.
What a care lead relies on is then checked from the event log itself."""

import asyncio
import json
import signal
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import ServiceFactory
from tests.factories import classified
from tests.harness import KafkaHarness
from triage_schemas.records import Agent, ConversationEvent

CONVERSATIONS = 2_000
AGENTS = 12
CAPACITY = 5
KILL_AFTER = 700  # routed messages before the assigner is killed


def roster() -> list[Agent]:
    now = datetime.now(UTC)
    return [
        Agent(
            agent_id=f"agent-{n:02d}",
            name=f"Agent {n}",
            teams=["support"],
            capacity=CAPACITY,
            status="online",
            updated_at=now,
        )
        for n in range(AGENTS)
    ]


def order(n: int) -> bytes:
    received = datetime.now(UTC)
    message = classified(
        "order_shipping", message_id=f"ig:{n}", conversation_id=f"conv-{n}", author={"id": f"customer-{n}"},
        received_at=received, created_at=received - timedelta(seconds=1),
    )  # fmt: skip
    return message.to_json_bytes()


async def assigner_of(routers: list[Any]) -> Any:
    async with httpx.AsyncClient() as client:
        for router in routers:
            if (await client.get(f"{router.url}/agents")).json()["assigner"]:
                return router
    raise AssertionError("no router replica says it is the assigner")


async def test_two_replicas_assign_within_capacity_through_a_crash(
    kafka: KafkaHarness, services: ServiceFactory
) -> None:
    topics = kafka.topics
    for agent in roster():
        await kafka.produce(topics.agents, agent, key=agent.agent_id)
    routers = [await services.start("router"), await services.start("router")]

    events = await kafka.consumer(topics.conversation_events)
    routed_reader = await kafka.consumer(topics.routed)
    resolved: set[str] = set()
    routed = 0
    open_assigned: list[str] = []
    killed = False

    async def help_desk() -> None:
        """Agents finish their oldest conversation whenever someone has to wait, and
        finish everything once the stream is over: every slot stays in use mid-stream."""
        owed = 0
        while len(resolved) < CONVERSATIONS:
            batches = await events.getmany(timeout_ms=1000)
            for record in (r for rs in batches.values() for r in rs):
                event = json.loads(record.value)
                if event["type"] == "assigned" and event["conversation_id"] not in resolved:
                    open_assigned.append(event["conversation_id"])
                elif event["type"] == "unassigned" and event.get("agent_id") is None:
                    owed += 1  # somebody waits: an agent wraps one up
            while open_assigned and (owed > 0 or routed >= CONVERSATIONS):
                owed = max(0, owed - 1)
                conversation = open_assigned.pop(0)
                if conversation in resolved:
                    continue
                resolved.add(conversation)
                done = ConversationEvent(
                    event_id=f"resolved:{conversation}", conversation_id=conversation, type="resolved",
                    at=datetime.now(UTC), actor="help-desk",
                )  # fmt: skip
                await kafka.produce(topics.conversation_events, done, key=conversation)

    desk = asyncio.create_task(help_desk())
    for n in range(CONVERSATIONS):
        await kafka.produce(topics.classified, order(n), key=f"conv-{n}")
        if n % 100 == 99:  # keep pace with the routers rather than flood them
            while routed < n - 200:
                batches = await routed_reader.getmany(timeout_ms=1000)
                routed += sum(len(rs) for rs in batches.values())
        if not killed and routed >= KILL_AFTER:
            victim = await assigner_of(routers)
            assert victim.stop(signal.SIGKILL) == -signal.SIGKILL
            killed = True
    while routed < CONVERSATIONS:
        batches = await routed_reader.getmany(timeout_ms=1000)
        routed += sum(len(rs) for rs in batches.values())
    try:
        await asyncio.wait_for(desk, timeout=180)
    except TimeoutError:
        survivor = next(r for r in routers if r.process is not None and r.process.poll() is None)
        async with httpx.AsyncClient() as client:
            view = (await client.get(f"{survivor.url}/agents")).json()
        raise AssertionError(
            f"{len(resolved)} of {CONVERSATIONS} conversations resolved; assigned and open {len(open_assigned)}; "
            f"the surviving router sees {view}"
        ) from None
    assert killed

    # The whole event log, as every replica read it.
    log = await kafka.consumer(topics.conversation_events)
    records = await kafka.drain(log)
    seen: set[str] = set()
    ordered = []
    for record in records:
        event = ConversationEvent.model_validate_json(record.value)
        if event.event_id not in seen:  # a redelivered batch repeats its events with the same ids
            seen.add(event.event_id)
            ordered.append(event)
    ordered.sort(key=lambda e: e.at)

    holder: dict[str, str | None] = {}
    load: Counter[str] = Counter()
    peak: Counter[str] = Counter()
    assigned_once: set[str] = set()
    twice: list[str] = []
    for event in ordered:
        conversation = event.conversation_id
        current = holder.get(conversation)
        if event.type == "assigned":
            assert event.agent_id is not None
            if current is not None:
                twice.append(conversation)
            holder[conversation] = event.agent_id
            load[event.agent_id] += 1
            peak[event.agent_id] = max(peak[event.agent_id], load[event.agent_id])
            assigned_once.add(conversation)
        elif event.type in ("unassigned", "resolved") and current is not None:
            holder[conversation] = None
            load[current] -= 1

    assert twice == [], f"conversations held by two agents at once: {twice[:5]}"
    assert assigned_once == {f"conv-{n}" for n in range(CONVERSATIONS)}, "a conversation was never assigned"
    over = {agent: n for agent, n in peak.items() if n > CAPACITY}
    assert over == {}, f"agents over capacity (documented bound: none after a crash): {over}"
    assert len(peak) == AGENTS  # the work was spread over every agent
    per_agent = Counter(e.agent_id for e in ordered if e.type == "assigned")
    assert min(per_agent.values()) > CONVERSATIONS / AGENTS / 3, f"least loaded left agents idle: {per_agent}"

    queued = [e for e in ordered if e.type == "unassigned" and e.agent_id is None]
    assert len(queued) > CONVERSATIONS / 4, "the queue was hardly used: capacity was never tested"
    survivor = next(r for r in routers if r.process is not None and r.process.poll() is None)
    async with httpx.AsyncClient() as client:
        view = (await client.get(f"{survivor.url}/agents")).json()
    assert view["assigner"] is True  # the survivor took over assigning
    assert {a["agent_id"] for a in view["agents"]} == {a.agent_id for a in roster()}
