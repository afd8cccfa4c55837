"""The README's settings reference, generated from the settings models themselves
(``make docs`` writes it; a test fails when README.md is stale)."""

import importlib
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from triage_runtime.kafka import KafkaSettings
from triage_runtime.topics import TopicSettings

BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"
SERVICE_SETTINGS = {
    "ingest": ("triage_ingest.config", "IngestSettings"),
    "classifier": ("triage_classifier.config", "ClassifierSettings"),
    "router": ("triage_router.config", "RouterSettings"),
    "sla-monitor": ("triage_sla_monitor.config", "SlaMonitorSettings"),
}


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "(required)"
    value: Any = field.get_default(call_default_factory=True)
    if value is None:
        return "–"
    if hasattr(value, "get_secret_value"):
        return "(secret)"
    text = str(value.value if hasattr(value, "value") else value)
    if isinstance(value, Path):
        text = _shorten_path(value)
    return f"`{text}`" if text else '`""`'


REPO = Path(__file__).resolve().parents[4]


def _shorten_path(path: Path) -> str:
    """Inside a package: the package path; inside the checkout: relative to its root."""
    parts = path.parts
    if "src" in parts:
        return "/".join(parts[parts.index("src") + 1 :])
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def _prefix(model: type[BaseSettings]) -> str:
    return str(model.model_config.get("env_prefix", ""))


def _delimiter(model: type[BaseSettings]) -> str | None:
    delimiter = model.model_config.get("env_nested_delimiter")
    return str(delimiter) if delimiter else None


def _rows(model: type[BaseModel], prefix: str, delimiter: str | None) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        if name in ("kafka", "topics"):
            continue  # documented once, in their own sections
        nested = field.annotation
        description = (field.description or "").replace("|", "\\|")
        if isinstance(nested, type) and issubclass(nested, BaseModel) and not issubclass(nested, BaseSettings):
            if delimiter:
                rows += _rows(nested, f"{prefix}{name.upper()}{delimiter}", delimiter)
                continue
            description += " (JSON object)"
        rows.append(f"| `{prefix}{name.upper()}` | {_default(field)} | {description} |")
    return rows


def render() -> str:
    sections: list[tuple[str, type[BaseSettings]]] = [
        ("Kafka connection (every service)", KafkaSettings),
        ("Topics (every service)", TopicSettings),
    ]
    for service, (module, name) in SERVICE_SETTINGS.items():
        sections.append((service, getattr(importlib.import_module(module), name)))
    out = [BEGIN, ""]
    for title, model in sections:
        out += [
            f"#### {title}",
            "",
            "| variable | default | meaning |",
            "|---|---|---|",
            *_rows(model, _prefix(model), model.model_config.get("env_nested_delimiter")),
            "",
        ]
    out.append(END)
    return "\n".join(out)


def update(readme: Path, check: bool = False) -> bool:
    """Rewrite the generated block; returns whether it was already up to date."""
    text = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise ValueError(f"{readme} has no {BEGIN} ... {END} block")
    fresh = pattern.sub(lambda _: render(), text)
    if fresh == text:
        return True
    if not check:
        readme.write_text(fresh, encoding="utf-8")
    return False
