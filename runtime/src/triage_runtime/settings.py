"""The one settings pattern: pydantic-settings, env vars with a per-service prefix.

A service subclasses ``ServiceSettings`` and sets its own ``env_prefix``
(``TRIAGE_INGEST_``, ``TRIAGE_CLASSIFIER_``, ...). The Kafka connection and the topic
names are shared by every service and read from ``TRIAGE_KAFKA_*`` and
``TRIAGE_TOPIC_*``.
"""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from triage_runtime.kafka import KafkaSettings
from triage_runtime.topics import TopicSettings


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    topics: TopicSettings = Field(default_factory=TopicSettings)
    consumer_group: str = Field(description="Kafka consumer group; replicas of one service share it")
    http_host: str = Field(default="0.0.0.0", description="address for /metrics, /healthz, /readyz")
    http_port: int = Field(ge=0, le=65535, description="port for /metrics, /healthz, /readyz")
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")
    shutdown_timeout_seconds: float = Field(
        default=20.0, gt=0, description="how long SIGTERM waits for in-flight records before exiting"
    )
