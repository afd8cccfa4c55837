"""Settings of the sla-monitor service (env ``TRIAGE_SLA_MONITOR_<FIELD>``)."""

from pathlib import Path

import yaml
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import SettingsConfigDict

from triage_runtime.jsonlines import validation_summary
from triage_runtime.settings import ServiceSettings
from triage_schemas.policy import ClockPolicy
from triage_sla_monitor.metrics import BUCKETS


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

    @field_validator("histogram_buckets_seconds")
    @classmethod
    def _increasing(cls, buckets: tuple[float, ...]) -> tuple[float, ...]:
        if any(b <= 0 for b in buckets) or list(buckets) != sorted(set(buckets)):
            raise ValueError("histogram buckets must be positive and strictly increasing")
        return buckets


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
