"""Settings of the ingest service (env ``TRIAGE_INGEST_<FIELD>``)."""

from datetime import UTC, datetime

from pydantic import AwareDatetime, Field, field_validator
from pydantic_settings import SettingsConfigDict

from triage_ingest.webhooks.settings import WebhookSettings
from triage_runtime.patterns import PatternError, compile_pattern
from triage_runtime.settings import ServiceSettings
from triage_schemas.enums import Platform

# The apps behind Meta's own inboxes, where people type replies (the ids to pass thread
# control to an inbox: developers.facebook.com/docs/messenger-platform/reference/handover-protocol).
META_INBOX_APP_IDS = {"263902037430900": "Page Inbox", "1217981644879628": "Instagram Inbox"}
AUTOMATION_APP_PLATFORMS = frozenset({Platform.MESSENGER, Platform.INSTAGRAM})


class IngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TRIAGE_INGEST_", env_nested_delimiter="__", extra="ignore")

    consumer_group: str = Field(default="triage-ingest", description="Kafka consumer group")
    http_port: int = Field(default=8001, ge=0, le=65535, description="port for /metrics, /healthz, /readyz, /webhooks")
    brand_account_ids: dict[Platform, list[str]] = Field(
        default_factory=dict,
        description='the brand\'s own account ids per platform, as JSON ({"x": ["2244994945"]}): their messages '
        "are brand replies; the envelope's account_id counts too",
    )
    automation_app_ids: dict[Platform, list[str]] = Field(
        default_factory=dict,
        description='ids of the apps that send the brand\'s automated messages, per platform, as JSON ({"messenger": '
        '["731500000000001"]}): a Messenger or Instagram echo sent by one is automation and stops no clock. Never '
        "an inbox's id (Page Inbox 263902037430900, Instagram Inbox 1217981644879628): people type there",
    )
    automation_metadata_marker: str | None = Field(
        default="automation",
        description="a Messenger or Instagram echo whose Send API metadata contains this text (any case) is "
        "automation; empty = none",
    )
    automation_sources: list[str] = Field(
        default_factory=list,
        description="X apps whose posts and DMs are automation, by name as a post's source shows it or by app id, "
        'as JSON (["Sprout Social", "3033300"]); any case',
    )
    dedupe_window_seconds: float = Field(
        default=86_400, gt=0, description="a message id seen again within this window is a duplicate"
    )
    seen_mark_delay_ms: int = Field(
        default=50,
        ge=0,
        le=10_000,
        description="how long seen-marks gather before they are written to the ingest-seen topic together",
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
    batch_size: int = Field(default=500, ge=1, description="raw records consumed per batch")
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings, description="the webhook receiver")

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

    @field_validator("automation_app_ids", mode="before")
    @classmethod
    def _app_ids_as_strings(cls, value: object) -> object:
        # Meta's payloads give app ids as JSON numbers; a copied number should not fail start-up.
        if isinstance(value, dict):
            return {
                platform: [str(i) if isinstance(i, int) and not isinstance(i, bool) else i for i in ids]
                if isinstance(ids, list)
                else ids
                for platform, ids in value.items()
            }
        return value

    @field_validator("automation_app_ids")
    @classmethod
    def _app_ids_name_automation_apps(cls, value: dict[Platform, list[str]]) -> dict[Platform, list[str]]:
        unread = sorted(p.value for p, ids in value.items() if ids and p not in AUTOMATION_APP_PLATFORMS)
        if unread:
            raise ValueError(
                f"TRIAGE_INGEST_AUTOMATION_APP_IDS: {', '.join(unread)} payloads name no sending app; app ids are "
                "read on messenger and instagram (for x use TRIAGE_INGEST_AUTOMATION_SOURCES)"
            )
        for platform, ids in value.items():
            for app_id in ids:
                if app_id.strip() in META_INBOX_APP_IDS:
                    # Every reply a person types in the inbox carries this id: listing it would
                    # make all of them automation, and no conversation's clock would ever stop.
                    raise ValueError(
                        f"TRIAGE_INGEST_AUTOMATION_APP_IDS: {app_id} ({platform.value}) is Meta's "
                        f"{META_INBOX_APP_IDS[app_id.strip()]}, where people type their replies, not an automation app"
                    )
        return {platform: [app_id.strip() for app_id in ids if app_id.strip()] for platform, ids in value.items()}

    @field_validator("automation_metadata_marker")
    @classmethod
    def _blank_marker_is_none(cls, marker: str | None) -> str | None:
        return (marker or "").strip() or None
