"""Settings of the classifier service (env ``TRIAGE_CLASSIFIER_<FIELD>``)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from triage_classifier.corpus import DEFAULT_CORPUS_DIR
from triage_classifier.guardrails import DEFAULT_GUARDRAILS
from triage_classifier.model import DEFAULT_MODEL_DIR
from triage_classifier.taxonomy import DEFAULT_TAXONOMY
from triage_runtime.settings import ServiceSettings


class ClassifierSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TRIAGE_CLASSIFIER_", extra="ignore")

    consumer_group: str = Field(default="triage-classifier", description="Kafka consumer group")
    http_port: int = Field(default=8002, ge=0, le=65535, description="port for /metrics, /healthz, /readyz")
    batch_size: int = Field(default=500, ge=1, description="messages consumed and classified per batch")
    model_dir: Path = Field(default=DEFAULT_MODEL_DIR, description="where trained artifacts live (<dir>/<version>/)")
    model_version: str | None = Field(
        default=None, description="artifact to load; default: the one named in <model_dir>/CURRENT"
    )
    corpus_dir: Path = Field(default=DEFAULT_CORPUS_DIR, description="labelled corpus (*.jsonl) for training")
    taxonomy_file: Path = Field(default=DEFAULT_TAXONOMY, description="YAML: issue type to lane and priority")
    guardrails_file: Path = Field(default=DEFAULT_GUARDRAILS, description="YAML: reviewed P1 guardrail patterns")
    review_below: float = Field(
        default=0.55, ge=0.0, le=1.0, description="needs_review when the model's confidence is below this"
    )
    p1_threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="answer P1 when the P1 types together are at least this likely; default: learned at training",
    )
    max_model_chars: int = Field(
        default=2000, ge=1, description="characters of a message the model reads; the record keeps them all"
    )
