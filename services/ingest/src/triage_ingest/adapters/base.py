"""What every platform adapter returns, and the context it is given.

An adapter turns one platform payload (exactly as the platform delivered it) into the
messages it carries, one per message, and names the non-message events it skipped.
It sets ``direction`` from the payload (an echo flag) or from the brand's own account
ids in the context; personal-data flags, duplicates and brand replies are handled
after it, the same way for every platform (see ``triage_ingest.normalize``).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from triage_schemas.enums import ActorKind, Platform
from triage_schemas.records import SocialMessage


class PayloadError(ValueError):
    """The payload does not have the documented shape; the message says what is wrong
    (``entry[0].messaging[1].sender.id is missing``), so a connector author can fix it."""


@dataclass(frozen=True)
class AutomationRules:
    """What marks one of the brand's own messages as sent by automation (a chatbot, an
    auto-acknowledgement) rather than by a person: only a person's reply stops a
    response clock. Each platform's adapter asks only what its payload can answer."""

    app_ids: frozenset[str] = frozenset()
    """Ids of the apps that send automated messages on this platform (Meta echoes' ``app_id``)."""
    metadata_marker: str | None = None
    """Text the brand's automation puts in a Meta Send API ``metadata`` string."""
    sources: frozenset[str] = frozenset()
    """Names or ids of the X apps that post automatically, case-folded."""

    def __post_init__(self) -> None:
        # X shows an app's name as its owner typed it; configuration should not have to match its case.
        object.__setattr__(self, "sources", frozenset(s.strip().casefold() for s in self.sources if s.strip()))

    def app(self, app_id: str | None) -> bool:
        return app_id is not None and app_id in self.app_ids

    def metadata(self, metadata: str | None) -> bool:
        # An empty marker would be found in every string and turn every tagged reply into automation.
        marker = self.metadata_marker
        if not marker or metadata is None:
            return False
        return marker.casefold() in metadata.casefold()

    def source(self, *names_or_ids: str | None) -> bool:
        return any(value is not None and value.strip().casefold() in self.sources for value in names_or_ids)


def actor_kind(automated: bool) -> ActorKind | None:
    """Absent means human, so a reply is only ever marked when the payload shows automation."""
    return ActorKind.AUTOMATION if automated else None


@dataclass(frozen=True)
class AdapterContext:
    platform: Platform
    received_at: datetime
    account_id: str | None = None
    """The brand account the envelope says it was delivered to, when it says."""
    brand_account_ids: frozenset[str] = field(default_factory=frozenset)
    """The brand's own account ids on this platform (from configuration)."""
    automation: AutomationRules = field(default_factory=AutomationRules)
    """How to tell the brand's automated messages from its people's (from configuration)."""

    def is_brand(self, account_id: str | None) -> bool:
        return account_id is not None and (account_id in self.brand_account_ids or account_id == self.account_id)


@dataclass(frozen=True)
class Skipped:
    """A platform event that is not a message (read receipt, delivery status, reaction...)."""

    kind: str


Extracted = SocialMessage | Skipped
Adapter = Callable[[dict[str, Any], AdapterContext], list[Extracted]]


def message_id(platform: Platform, platform_id: str) -> str:
    return f"{platform.value}:{platform_id}"


def from_unix(seconds: float | int | str, *, millis: bool = False) -> datetime:
    value = float(seconds)
    return datetime.fromtimestamp(value / 1000 if millis else value, UTC)


_MISSING = object()


def _step(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def need(data: Any, path: str, *keys: str | int) -> Any:
    """The value at ``keys`` under ``data`` (found at ``path``), or a PayloadError naming
    the first missing step: ``entry[0].messaging[1].sender.id is missing``."""
    current, here = data, path
    for key in keys:
        here = _step(here, key)
        if isinstance(key, int):
            found = current[key] if isinstance(current, list) and -len(current) <= key < len(current) else _MISSING
        else:
            found = current.get(key, _MISSING) if isinstance(current, dict) else _MISSING
        if found is _MISSING or found is None:
            raise PayloadError(f"{here} is missing")
        current = found
    return current


def need_str(data: Any, path: str, *keys: str | int) -> str:
    """A string or a number given as an id (platforms send both), as a string."""
    value = need(data, path, *keys)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PayloadError(f"{_path(path, keys)} must be a string, not {type(value).__name__}")
    if isinstance(value, str) and not value.strip():
        raise PayloadError(f"{_path(path, keys)} is empty")
    return str(value)


def need_list(data: Any, path: str, *keys: str | int) -> list[Any]:
    value = need(data, path, *keys)
    if not isinstance(value, list):
        raise PayloadError(f"{_path(path, keys)} must be a list, not {type(value).__name__}")
    return value


def optional(data: Any, *keys: str | int) -> Any:
    """The value at ``keys``, or None when any step is absent."""
    current = data
    for key in keys:
        if isinstance(key, int):
            current = current[key] if isinstance(current, list) and -len(current) <= key < len(current) else None
        else:
            current = current.get(key) if isinstance(current, dict) else None
        if current is None:
            return None
    return current


def optional_str(data: Any, *keys: str | int) -> str | None:
    value = optional(data, *keys)
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) and str(value) else None


def optional_int(data: Any, *keys: str | int) -> int | None:
    value = optional(data, *keys)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def timestamp(data: Any, path: str, *keys: str | int, millis: bool = False) -> datetime:
    """A unix timestamp field (seconds or milliseconds, number or numeric string)."""
    value = need(data, path, *keys)
    try:
        return from_unix(value, millis=millis)
    except (TypeError, ValueError, OverflowError, OSError):
        raise PayloadError(f"{_path(path, keys)} is not a unix timestamp: {str(value)[:40]!r}") from None


def iso_timestamp(data: Any, path: str, *keys: str | int) -> datetime:
    value = need_str(data, path, *keys)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PayloadError(f"{_path(path, keys)} is not an ISO-8601 time: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise PayloadError(f"{_path(path, keys)} has no time zone: {value[:40]!r}")
    return parsed.astimezone(UTC)


def _path(path: str, keys: tuple[str | int, ...]) -> str:
    for key in keys:
        path = _step(path, key)
    return path
