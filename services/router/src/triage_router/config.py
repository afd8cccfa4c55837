"""Settings of the router service (env ``TRIAGE_ROUTER_<FIELD>``)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from triage_router.policy import DEFAULT_POLICY
from triage_runtime.settings import ServiceSettings


class RouterSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TRIAGE_ROUTER_", extra="ignore")

    consumer_group: str = Field(default="triage-router", description="Kafka consumer group")
    http_port: int = Field(default=8003, ge=0, le=65535, description="port for /metrics, /healthz, /readyz")
    policy_file: Path = Field(default=DEFAULT_POLICY, description="routing policy YAML (owners, tiers, SLA targets)")
    batch_size: int = Field(default=500, ge=1, description="records consumed per batch")
    corrections_consumer_group: str | None = Field(
        default=None,
        description="consumer group that reads routed messages and conversation events to apply corrections "
        "(reclassified events); unset = the consumer group with -corrections appended",
    )
    corrections_memory_size: int = Field(
        default=50_000, ge=1, description="routed messages remembered (one per conversation) so a correction can "
        "route its message again; the least recent are dropped",
    )  # fmt: skip
    corrections_gather_ms: int = Field(
        default=500,
        ge=0,
        le=5_000,
        description="how long routed messages and events may gather into one batch of the corrections consumer "
        "(it reads every routed message back; a correction is applied at most this much later)",
    )
    corrections_memory_hours: float = Field(
        default=72, gt=0, description="after a restart, the routed messages of this many hours are read back"
    )

    @property
    def corrections_group(self) -> str:
        return self.corrections_consumer_group or f"{self.consumer_group}-corrections"
