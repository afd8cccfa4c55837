"""The demo's care team on the roster: agents come on shift, step away and come back,
and wrap conversations up after answering them, so the live view shows assignment,
queues and load moving."""

import asyncio
import random
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaProducer

import triage_router
from triage_router.roster import load_roster
from triage_runtime.topics import TopicSettings
from triage_schemas import Agent, AgentStatus, ConversationEvent, ConversationEventType

DEMO_ROSTER = Path(triage_router.__file__).resolve().parents[2] / "examples" / "roster.yaml"
BREAK_EVERY_SECONDS = 20.0  # on average, someone steps away or comes back this often


async def publish(producer: AIOKafkaProducer, topics: TopicSettings, agent: Agent) -> None:
    await producer.send_and_wait(topics.agents, agent.to_json_bytes(), key=agent.agent_id.encode())


async def shift(producer: AIOKafkaProducer, topics: TopicSettings, rng: random.Random) -> None:
    """Publish the roster, then let one agent at a time step away or come back, until cancelled."""
    agents = load_roster(DEMO_ROSTER)
    for agent in agents:
        await publish(producer, topics, agent)
    while True:
        await asyncio.sleep(rng.expovariate(1 / BREAK_EVERY_SECONDS))  # the demo's own pace, not a test wait
        index = rng.randrange(len(agents))
        agent = agents[index]
        status = AgentStatus.AWAY if agent.status == AgentStatus.ONLINE else AgentStatus.ONLINE
        agents[index] = agent.model_copy(update={"status": status, "updated_at": datetime.now(UTC)})
        await publish(producer, topics, agents[index])


def resolved(conversation_id: str, uid: str) -> ConversationEvent:
    """The agent wraps the conversation up: its slot frees for the next one waiting."""
    return ConversationEvent(
        event_id=f"demo-resolved-{uid}",
        conversation_id=conversation_id,
        type=ConversationEventType.RESOLVED,
        at=datetime.now(UTC),
        actor="demo-care-team",
    )
