"""Publishing a roster (and status changes) to ``social.agents``, keyed by agent id."""

from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from triage_router.config import RouterSettings
from triage_runtime.kafka import ensure_topics
from triage_schemas.enums import AgentStatus
from triage_schemas.records import Agent


def with_status(agents: list[Agent], agent_id: str, status: AgentStatus) -> list[Agent]:
    """Just that agent, with its new status stamped now."""
    for agent in agents:
        if agent.agent_id == agent_id:
            return [agent.model_copy(update={"status": status, "updated_at": datetime.now(UTC)})]
    raise SystemExit(f"triage-router agents status: {agent_id} is not in the roster file")


async def publish_roster(settings: RouterSettings, agents: list[Agent], removed: list[str]) -> str:
    topic = settings.topics.agents
    await ensure_topics(settings.kafka, settings.topics, [topic])
    producer = AIOKafkaProducer(**settings.kafka.admin_client_kwargs(), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        sends = [await producer.send(topic, a.to_json_bytes(), key=a.agent_id.encode("utf-8")) for a in agents]
        sends += [await producer.send(topic, None, key=agent_id.encode("utf-8")) for agent_id in removed]  # tombstones
        for sent in sends:
            await sent
    finally:
        await producer.stop()
    return topic
