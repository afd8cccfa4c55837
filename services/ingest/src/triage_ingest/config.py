"""Settings of the ingest service (env ``TRIAGE_INGEST_<FIELD>``)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from triage_schemas.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TRIAGE_INGEST_", extra="ignore")

    consumer_group: str = Field(default="triage-ingest", description="Kafka consumer group")
    http_port: int = Field(default=8001, ge=0, le=65535, description="port for /metrics, /healthz, /readyz")
