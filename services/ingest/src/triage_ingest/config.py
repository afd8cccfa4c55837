"""Settings of the ingest service (env ``TRIAGE_INGEST_<FIELD>``)."""

from datetime import UTC, datetime

from pydantic import AwareDatetime, Field, field_validator
from pydantic_settings import SettingsConfigDict

from triage_ingest.pii import PatternError, compile_pattern
from triage_ingest.webhooks.settings import WebhookSettings
from triage_schemas.enums import Platform
from triage_schemas.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TRIAGE_INGEST_", env_nested_delimiter="__", extra="ignore")

    consumer_group: str = Field(default="triage-ingest", description="Kafka consumer group")
    http_port: int = Field(default=8001, ge=0, le=65535, description="port for /metrics, /healthz, /readyz, /webhooks")
    brand_account_ids: dict[Platform, list[str]] = Field(
        default_factory=dict,
        description='the brand\'s own account ids per platform, as JSON ({"x": ["2244994945"]}): their messages '
        "are brand replies; the envelope's account_id counts too",
    )
    dedupe_window_seconds: float = Field(
        default=86_400, gt=0, description="a message id seen again within this window is a duplicate"
    )
    dedupe_max_ids: int = Field(default=1_000_000, ge=1, description="most message ids remembered for deduplication")
    max_record_bytes: int = Field(default=512 * 1024, ge=1024, description="larger raw records are dead-lettered")
    max_text_chars: int = Field(default=20_000, ge=1, description="messages with longer text are dead-lettered")
    max_json_depth: int = Field(
        default=64, ge=8, le=1_000, description="raw records nested deeper are dead-lettered before parsing"
    )
    earliest_timestamp: AwareDatetime = Field(
        default=datetime(2000, 1, 1, tzinfo=UTC),
        description="messages received or created before this are dead-lettered (a broken clock)",
    )
    max_future_seconds: float = Field(
        default=86_400, ge=0, description="messages received or created further ahead of now are dead-lettered"
    )
    order_number_pattern: str = Field(
        default=(
            r"\border\s*(?:no\.?|number|nr|n°|#)?\s*:?\s*#?[A-Z]{0,4}-?\d{4,}"
            r"|#[A-Z]{0,4}-?\d{4,}\b"
            r"|\bcommande\s*(?:n°|#)?\s*\d{4,}"
            r"|\bpedido\s*(?:n[º°o]\.?|#)?\s*\d{4,}"
        ),
        description="regular expression for order numbers, matched case-insensitively in RE2 syntax (linear time: "
        "no lookarounds or backreferences); empty = none (personal data: the order links to a customer)",
    )

    @field_validator("order_number_pattern")
    @classmethod
    def _order_number_pattern_runs_on_re2(cls, pattern: str) -> str:
        # Refused at start-up rather than at the first message that reaches it.
        if pattern:
            try:
                compile_pattern(pattern, ignore_case=True)
            except PatternError as error:
                raise ValueError(f"TRIAGE_INGEST_ORDER_NUMBER_PATTERN: {error}") from None
        return pattern
    batch_size: int = Field(default=500, ge=1, description="raw records consumed per batch")
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings, description="the webhook receiver")
