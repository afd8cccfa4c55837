"""Settings of the sla-monitor service (env ``TRIAGE_SLA_MONITOR_<FIELD>``)."""

import re
from pathlib import Path

import yaml
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import SettingsConfigDict

from triage_runtime.jsonlines import validation_summary
from triage_runtime.settings import ServiceSettings
from triage_schemas.enums import Lane
from triage_schemas.policy import ClockPolicy
from triage_sla_monitor.metrics import BUCKETS

ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", re.IGNORECASE)


class SlaMonitorSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TRIAGE_SLA_MONITOR_", env_nested_delimiter="__", extra="ignore")

    consumer_group: str = Field(default="triage-sla-monitor", description="Kafka consumer group")
    http_port: int = Field(default=8004, ge=0, le=65535, description="port for /metrics, /healthz, /readyz")
    policy_file: Path | None = Field(
        default=None,
        description="the routing policy YAML the router reads (the same file): alert fractions, calendars, "
        "reply-window margin, follow-up; unset = the built-in defaults",
    )
    gather_ms: int = Field(
        default=200,
        ge=0,
        le=5_000,
        description="how long inputs may gather into one batch before the monitor reads them; each batch is one "
        "Kafka transaction, so batching spares the broker (0: read each record as it lands)",
    )
    surge_consumer_group: str | None = Field(
        default=None,
        description="Kafka consumer group of the surge detector, which reads the volume topic by dimension; "
        "unset = the consumer group with -surges appended",
    )
    surge_gather_ms: int = Field(
        default=1_000,
        ge=0,
        le=10_000,
        description="how long volume may gather into one batch of the surge detector; each batch writes the "
        "watches it touched, in one transaction (a surge is noticed at most this much later)",
    )
    surge_idle_seconds: float = Field(
        default=60,
        gt=0,
        description="after this long without inbound volume, surge windows close on the wall clock (so a surge "
        "still ends when the inbox goes quiet)",
    )
    tick_seconds: float = Field(default=0.25, gt=0, le=5, description="how often due clocks are checked")
    gauges_seconds: float = Field(default=10.0, gt=0, description="how often open/unanswered gauges are recomputed")
    transactional_id: str = Field(
        default="triage-sla-monitor-0",
        description="Kafka transactional id of this replica (unique per replica, stable across its restarts)",
    )
    transaction_timeout_seconds: float = Field(
        default=60,
        ge=1,
        le=900,
        description="how long a crashed replica's open transaction can hold back readers of its partitions",
    )
    alertmanager_url: str | None = Field(default=None, description="Alertmanager base URL; unset = no posting")
    dm_badge_window_seconds: float = Field(default=300, gt=0, description="'very responsive' badge reply window")
    histogram_buckets_seconds: tuple[float, ...] = Field(
        default=BUCKETS,
        min_length=1,
        description="upper bounds of the first-response and resolution histograms, as a JSON list (minutes to days)",
    )
    wait_sample: int = Field(default=200, ge=1, description="recent first responses behind the wait estimate")
    public_lane_labels: dict[str, str] = Field(
        default={
            "community": "questions and feedback",
            "sales": "sales and partnerships",
            "support": "orders, payments and accounts",
        },
        description="customer-facing label of each lane in /public/wait-times, as a JSON object; a lane left out "
        "(by default risk) gets no figure of its own; lanes given one label share it",
    )
    public_min_samples: int = Field(
        default=5,
        ge=1,
        description="recent first responses a public figure needs before /public/wait-times shows it (fewer: left out)",
    )
    public_cache_seconds: int = Field(
        default=60,
        ge=0,
        le=86_400,
        description="max-age of the public wait times and banner (Cache-Control), and how often an open banner "
        "fetches them again",
    )
    public_allowed_origins: list[str] = Field(
        default=["*"],
        min_length=1,
        description="web origins whose pages may read /public/wait-times (CORS), as a JSON list such as "
        '["https://brand.example"]; ["*"] = any',
    )

    @property
    def surge_group(self) -> str:
        return self.surge_consumer_group or f"{self.consumer_group}-surges"

    @field_validator("histogram_buckets_seconds")
    @classmethod
    def _increasing(cls, buckets: tuple[float, ...]) -> tuple[float, ...]:
        if any(b <= 0 for b in buckets) or list(buckets) != sorted(set(buckets)):
            raise ValueError("histogram buckets must be positive and strictly increasing")
        return buckets

    @field_validator("public_lane_labels")
    @classmethod
    def _known_lanes(cls, labels: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(labels) - {lane.value for lane in Lane})
        if unknown:
            raise ValueError(f"not lanes: {', '.join(unknown)} (lanes: {', '.join(lane.value for lane in Lane)})")
        if any(not label.strip() or len(label) > 80 for label in labels.values()):
            raise ValueError("a public lane label must be 1 to 80 characters")
        return {lane: label.strip() for lane, label in labels.items()}

    @field_validator("public_allowed_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        wrong = [o for o in origins if o != "*" and not ORIGIN.fullmatch(o)]
        if wrong:
            raise ValueError(f"not web origins (scheme://host[:port], no path): {', '.join(wrong)}")
        return [o.lower() for o in origins]


class PolicyFileError(Exception):
    """The policy file cannot be used; the message names the file and what is wrong."""


def load_clock_policy(path: Path | None) -> ClockPolicy:
    """The clock sections (``calendars:``, ``sla:``) of the routing policy file."""
    if path is None:
        return ClockPolicy()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise PolicyFileError(f"{path}: cannot read the policy file ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise PolicyFileError(f"{path}: not YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise PolicyFileError(f"{path}: the policy file must be a mapping of sections")
    try:
        return ClockPolicy.model_validate(data)
    except ValidationError as error:
        raise PolicyFileError(f"{path}: invalid policy: {validation_summary(error, limit=5)}") from None
