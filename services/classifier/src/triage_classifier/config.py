"""Settings of the classifier service (env ``TRIAGE_CLASSIFIER_<FIELD>``)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from triage_schemas.settings import ServiceSettings


class ClassifierSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TRIAGE_CLASSIFIER_", extra="ignore")

    consumer_group: str = Field(default="triage-classifier", description="Kafka consumer group")
    http_port: int = Field(default=8002, ge=0, le=65535, description="port for /metrics, /healthz, /readyz")
