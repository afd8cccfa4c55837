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

from triage_schemas.enums import Platform
from triage_schemas.records import SocialMessage


class PayloadError(ValueError):
    """The payload does not have the documented shape; the message says what is wrong
    (``entry[0].messaging[1].sender.id is missing``), so a connector author can fix it."""


@dataclass(frozen=True)
class AdapterContext:
    platform: Platform
    received_at: datetime
    account_id: str | None = None
    """The brand account the envelope says it was delivered to, when it says."""
    brand_account_ids: frozenset[str] = field(default_factory=frozenset)
    """The brand's own account ids on this platform (from configuration)."""

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
