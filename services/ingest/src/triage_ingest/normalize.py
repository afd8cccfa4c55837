"""From a raw envelope's bytes to normalised messages and brand-reply events.

The steps, each with a reason a person can act on when it fails: size limit, UTF-8,
JSON, the envelope's schema, a known platform, the platform's payload shape (its
adapter), hostile text. Then each message found is flagged for personal data, checked
against recently seen ids, and either published as a message (a customer wrote) or as
an ``agent_replied`` conversation event (the brand wrote), which stops the SLA clock.
No Kafka here: the service and the ``normalize`` command both call it.
"""

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from triage_ingest.adapters import ADAPTERS
from triage_ingest.adapters.base import AdapterContext, AutomationRules, PayloadError, Skipped
from triage_ingest.pii import PiiDetector
from triage_runtime import safejson
from triage_runtime.delivery import Rejected
from triage_runtime.jsonlines import validation_summary
from triage_schemas.enums import ConversationEventType, Direction, Platform
from triage_schemas.records import ConversationEvent, RawEnvelope, SocialMessage, text_problem


@dataclass(frozen=True)
class Limits:
    max_record_bytes: int
    max_text_chars: int
    max_depth: int = safejson.DEFAULT_MAX_DEPTH
    earliest: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    max_future_seconds: float = 86_400


class Dedupe(Protocol):
    def first_time(self, key: str, now: float) -> bool: ...


@dataclass
class Normalized:
    """What one raw envelope produced."""

    platform: Platform
    messages: list[SocialMessage] = field(default_factory=list)
    events: list[ConversationEvent] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0


class Normalizer:
    def __init__(
        self,
        brand_account_ids: Mapping[Platform, frozenset[str]],
        pii: PiiDetector,
        recent: Dedupe,
        limits: Limits,
        automation: Mapping[Platform, AutomationRules] | None = None,
    ) -> None:
        self.brand_account_ids = brand_account_ids
        self.pii = pii
        self.recent = recent
        self.limits = limits
        self.automation = automation or {}

    def envelope(self, raw: bytes) -> RawEnvelope:
        if len(raw) > self.limits.max_record_bytes:
            raise Rejected(
                f"record is {len(raw):,} bytes, over the {self.limits.max_record_bytes:,}-byte limit "
                "(TRIAGE_INGEST_MAX_RECORD_BYTES)"
            )
        try:
            data = safejson.loads(raw, max_depth=self.limits.max_depth, max_bytes=self.limits.max_record_bytes)
        except safejson.BadJson as error:
            raise Rejected(f"record is {error.reason}") from None
        if not isinstance(data, dict):
            raise Rejected(f"record is a JSON {type(data).__name__}, not a raw_envelope object")
        if data.get("record_type", "raw_envelope") != "raw_envelope":
            raise Rejected(f"record_type is {data.get('record_type')!r}; social.raw takes raw_envelope records")
        platform = data.get("platform")
        if isinstance(platform, str) and platform not in Platform.__members__.values():
            known = ", ".join(p.value for p in Platform)
            raise Rejected(f"unknown platform {platform[:40]!r}; known platforms: {known}")
        try:
            return RawEnvelope.model_validate(data)
        except ValidationError as error:
            raise Rejected("not a valid raw_envelope: " + validation_summary(error, limit=5)) from None

    def record(self, raw: bytes, now: float) -> Normalized:
        envelope = self.envelope(raw)
        self._check_time("received_at", envelope.received_at, now)
        return self.payload(envelope.platform, envelope.payload, envelope.received_at, envelope.account_id, now)

    def _check_time(self, what: str, at: datetime, now: float) -> None:
        """A clock set to 1970 or to next year would put the message at the wrong end of
        every queue and SLA figure: refuse it with the range that is accepted."""
        if at < self.limits.earliest:
            raise Rejected(
                f"{what} {at.isoformat()} is before {self.limits.earliest.isoformat()} "
                "(TRIAGE_INGEST_EARLIEST_TIMESTAMP)"
            )
        if at.timestamp() > now + self.limits.max_future_seconds:
            raise Rejected(
                f"{what} {at.isoformat()} is more than {self.limits.max_future_seconds:,.0f} s in the future "
                "(TRIAGE_INGEST_MAX_FUTURE_SECONDS)"
            )

    def payload(
        self, platform: Platform, payload: dict[str, Any], received_at: datetime, account_id: str | None, now: float
    ) -> Normalized:
        context = AdapterContext(
            platform=platform,
            received_at=received_at,
            account_id=account_id,
            brand_account_ids=self.brand_account_ids.get(platform, frozenset()),
            automation=self.automation.get(platform, AutomationRules()),
        )
        try:
            extracted = ADAPTERS[platform](payload, context)
        except PayloadError as error:
            raise Rejected(f"{platform.value} payload: {error}") from None
        except ValidationError as error:
            # e.g. a message dated 1970 or year 9999: a field the platform sent is unusable
            raise Rejected(
                f"{platform.value} payload gives an invalid message: {validation_summary(error, limit=5)}"
            ) from None
        except (TypeError, AttributeError, KeyError, ValueError, OverflowError, OSError) as error:
            # An adapter met a shape its platform never sends: still the payload's fault.
            raise Rejected(f"{platform.value} payload has an unexpected shape ({type(error).__name__})") from None
        for position, item in enumerate(extracted):
            if isinstance(item, SocialMessage):
                self._check_text(item.text, position)
                self._check_time(f"message {position} created_at", item.created_at, now)
        result = Normalized(platform)
        for item in extracted:
            if isinstance(item, Skipped):
                result.skipped[item.kind] += 1
            elif not self.recent.first_time(item.message_id, now):
                result.duplicates += 1
            elif item.direction is Direction.OUTBOUND:
                result.events.append(brand_reply(item))
            else:
                result.messages.append(item.model_copy(update={"pii": self.pii.kinds(item.text)}))
        return result

    def _check_text(self, text: str, position: int) -> None:
        if len(text) > self.limits.max_text_chars:
            raise Rejected(
                f"message {position} has {len(text):,} characters of text, over the "
                f"{self.limits.max_text_chars:,}-character limit (TRIAGE_INGEST_MAX_TEXT_CHARS)"
            )
        problem = text_problem(text)
        if problem is not None:
            raise Rejected(f"message {position} {problem}")


def brand_reply(message: SocialMessage) -> ConversationEvent:
    """The brand wrote in the conversation: its first such message stops the SLA clock."""
    return ConversationEvent(
        event_id=f"ingest:{message.message_id}",
        conversation_id=message.conversation_id,
        type=ConversationEventType.AGENT_REPLIED,
        at=message.created_at,
        actor=message.author.id,
        actor_kind=message.actor_kind,
        platform=message.platform,
        message_id=message.message_id,
    )
