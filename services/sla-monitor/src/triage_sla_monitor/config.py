"""Settings of the sla-monitor service (env ``TRIAGE_SLA_MONITOR_<FIELD>``)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from triage_schemas.settings import ServiceSettings


class SlaMonitorSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TRIAGE_SLA_MONITOR_", extra="ignore")

    consumer_group: str = Field(default="triage-sla-monitor", description="Kafka consumer group")
    http_port: int = Field(default=8004, ge=0, le=65535, description="port for /metrics, /healthz, /readyz")
