"""Topic names and partition counts: one settings object every service reads."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TopicSettings(BaseSettings):
    """Names of the pipeline's topics (env ``TRIAGE_TOPIC_<FIELD>``).

    Every topic keyed by conversation id gets the same partition count, because the
    SLA monitor joins ``routed`` and ``conversation_events`` (and its state topic) by
    partition: a conversation must land on the same partition number in all three.
    """

    model_config = SettingsConfigDict(env_prefix="TRIAGE_TOPIC_", extra="ignore")

    raw: str = Field(default="social.raw", description="raw platform envelopes in")
    messages: str = Field(default="social.messages", description="normalised messages")
    classified: str = Field(default="social.classified", description="classified messages")
    routed: str = Field(default="social.routed", description="routed messages")
    conversation_events: str = Field(
        default="social.conversation-events", description="agent replies, pauses, resolutions"
    )
    sla_alerts: str = Field(default="social.sla-alerts", description="warnings, breaches, escalations")
    dlq: str = Field(default="social.dlq", description="dead letters from every stage")
    sla_state: str = Field(default="social.sla-state", description="compacted changelog of the SLA monitor's clocks")
    sla_volume: str = Field(
        default="social.sla-volume",
        description="the SLA monitor's repartition of inbound volume by dimension (lane, platform, issue type), "
        "so one replica counts all of a dimension for surge detection",
    )
    ingest_seen: str = Field(
        default="social.ingest-seen",
        description="log of the message ids ingest has published (kept 7 days), so its dedupe survives restarts",
    )
    agents: str = Field(
        default="social.agents", description="compacted agent roster: teams, skills, languages, capacity, status"
    )
    partitions: int = Field(default=6, ge=1, description="partitions of every topic")
    replication_factor: int = Field(default=1, ge=1, description="replicas of every topic")

    def all_topics(self) -> dict[str, str]:
        """Every topic by its settings name."""
        return {
            "raw": self.raw,
            "messages": self.messages,
            "classified": self.classified,
            "routed": self.routed,
            "conversation_events": self.conversation_events,
            "sla_alerts": self.sla_alerts,
            "dlq": self.dlq,
            "sla_state": self.sla_state,
            "sla_volume": self.sla_volume,
            "ingest_seen": self.ingest_seen,
            "agents": self.agents,
        }

    def compacted(self) -> set[str]:
        """Topics whose latest record per key is all that matters."""
        return {self.sla_state, self.agents}

    def topic_configs(self) -> dict[str, dict[str, str]]:
        """Configuration a topic is created with, where it differs from the broker's defaults."""
        return {
            self.sla_state: {"cleanup.policy": "compact"},
            self.agents: {"cleanup.policy": "compact"},
            # read once by the surge detector; what it counted lives in the state topic
            self.sla_volume: {"retention.ms": str(86_400_000)},
            # Seen ids matter only within ingest's dedupe window (24 h by default): keep a
            # week, so the log stays bounded while any sane window still finds its ids. A
            # record carries many ids under a unique key: there is nothing to compact.
            self.ingest_seen: {"cleanup.policy": "delete", "retention.ms": str(7 * 86_400_000)},
        }
