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
