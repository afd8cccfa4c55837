"""Pydantic models for every record on every topic.

Every record is one UTF-8 JSON object with a ``record_type`` and a ``schema_version``;
timestamps are timezone-aware and normalised to UTC. Each stage adds its own section
to the record it received, so a routed record still holds the whole message.
Unknown fields are ignored rather than rejected, so a consumer keeps working while a
newer producer adds fields.
"""

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    model_validator,
)

from triage_schemas.enums import (
    ActorKind,
    AgentStatus,
    AlertKind,
    Channel,
    ConversationEventType,
    Direction,
    IssueType,
    Lane,
    PiiKind,
    Platform,
    Priority,
    ReplyMode,
    ResponseKind,
    SentimentLabel,
    Severity,
    SurgeDimension,
    SurgeKind,
    Tier,
)

SCHEMA_VERSION = 1


EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
"""No social-media event happened before 2000, and none will be due after 2100; outside
these bounds a timestamp is garbage, and deadline arithmetic on it would overflow."""


def _to_utc(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+05:00 has no UTC equivalent
        raise ValueError("timestamp is out of range (0001-01-01 or 9999-12-31 with an offset)") from None
    if not EARLIEST <= utc < LATEST:
        raise ValueError(f"timestamp {utc.isoformat()} is outside {EARLIEST.year}-{LATEST.year}")
    return utc


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timestamp that must carry a zone offset and fall between 2000 and 2100; stored and
written in UTC."""

NonEmptyStr = Annotated[str, Field(min_length=1)]
Id = Annotated[str, Field(min_length=1, max_length=512)]
"""An identifier (message, conversation, event, author): platforms' ids are tens of
characters; the bound keeps a hostile id from making a Kafka key or record too large."""


# C0 and C1 control characters other than tab, newline and carriage return (terminal
# escapes, NULs), and unpaired surrogates: no customer typed them, and no stage may pass
# them on to agent tools.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def text_problem(text: str) -> str | None:
    """Why a message text cannot be accepted, or None: the first control character or
    unpaired surrogate, by code point and position (never the text itself)."""
    bad = _UNPRINTABLE.search(text)
    if bad is None:
        return None
    what = "an unpaired surrogate" if "\ud800" <= bad.group() <= "\udfff" else "a control character"
    return (
        f"text has U+{ord(bad.group()):04X} ({what}) at position {bad.start()}: "
        "control characters and unpaired surrogates are not accepted"
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


class Record(BaseModel):
    # NaN and infinity have no JSON form: a "NaN" string must not become a float that is
    # then written as null and breaks the next stage's schema.
    model_config = ConfigDict(extra="ignore", use_enum_values=False, allow_inf_nan=False)

    schema_version: int = Field(default=SCHEMA_VERSION, ge=1)

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json().encode("utf-8")


class RawEnvelope(Record):
    """What a platform connector or the webhook receiver puts on ``social.raw``."""

    record_type: Literal["raw_envelope"] = "raw_envelope"
    platform: Platform
    received_at: UtcDatetime
    payload: dict[str, Any] = Field(description="the platform's JSON exactly as received")
    source: str | None = Field(default=None, description="which connector or gateway sent it")
    account_id: str | None = Field(default=None, description="the brand account it was delivered to")
    headers: dict[str, str] = Field(default_factory=dict)


class Author(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    id: Id
    handle: str | None = Field(default=None, max_length=1024)
    followers: int | None = Field(default=None, ge=0)


class MessageFields(Record):
    """The normalised message; every later stage carries these fields unchanged."""

    message_id: Id = Field(description="platform plus the platform's own id, stable across retries")
    conversation_id: Id
    platform: Platform
    channel: Channel
    direction: Direction
    account_id: str | None = None
    author: Author
    text: str
    created_at: UtcDatetime
    received_at: UtcDatetime
    reply_to: str | None = None
    permalink: str | None = None
    pii: list[PiiKind] = Field(default_factory=list, description="kinds of personal data found in the text")
    actor_kind: ActorKind | None = Field(
        default=None,
        description="for the brand's own (outbound) messages: human or automation; absent means human",
    )


class SocialMessage(MessageFields):
    record_type: Literal["message"] = "message"


class Sentiment(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    label: SentimentLabel
    score: float = Field(ge=0.0, le=1.0, description="probability of the label")


class Classification(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    issue_type: IssueType
    lane: Lane
    priority: Priority
    confidence: float = Field(ge=0.0, le=1.0)
    needs_review: bool
    review_reasons: list[str] = Field(
        default_factory=list,
        description="why needs_review is set, the text's own problems first: empty_text, no_words (emoji, symbols "
        "or links only), too_short, language_not_trained:<code> (a language the model was not trained on), "
        "language_uncertain (a few words, likeliest in such a language), low_confidence, promoted_by_rule (the "
        "P1 share or a guardrail changed the model's answer); empty when needs_review is false",
    )
    sentiment: Sentiment
    scores: dict[IssueType, float] = Field(description="every issue type's probability")
    reasons: list[str] = Field(default_factory=list, description="guardrails that fired")
    model_version: NonEmptyStr
    language: str | None = Field(
        default=None, max_length=35, description="BCP 47 language of the text, when identified; null = unknown"
    )


class ClassifiedMessage(MessageFields):
    record_type: Literal["classified"] = "classified"
    classification: Classification


class Routing(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    team: NonEmptyStr
    owner: NonEmptyStr
    tier: Tier
    reply_mode: ReplyMode
    first_response_target_seconds: int | None = Field(
        default=None, ge=0, description="counted in the calendar's open hours, or around the clock without one"
    )
    first_response_due_at: UtcDatetime | None = Field(description="null when no SLA clock runs (spam)")
    calendar: str | None = Field(
        default=None, description="the policy calendar whose open hours count the targets; null = around the clock"
    )
    reply_window_closes_at: UtcDatetime | None = Field(
        default=None, description="when the platform stops letting the brand answer (Meta's 24 h window); null = none"
    )
    next_response_target_seconds: int | None = Field(
        default=None, ge=0, description="target for a reply to a customer who writes again after an agent replied"
    )
    resolution_target_seconds: int | None = Field(
        default=None, ge=0, description="target from first message to resolved"
    )
    resolution_due_at: UtcDatetime | None = None
    template_id: str | None = None
    policy_version: NonEmptyStr
    reasons: list[str] = Field(default_factory=list)
    escalate_to: str | None = Field(default=None, description="the leadership contact of a tier 2 conversation")
    campaign: str | None = Field(default=None, description="the policy campaign whose targets and template applied")
    review: bool = Field(
        default=False, description="the classification is uncertain: review_owner checks it while the clock runs"
    )
    review_owner: str | None = Field(default=None, description="who checks an uncertain classification")
    corrected_by: str | None = Field(
        default=None,
        description="the event_id of the reclassified event this routing follows: a re-route of an already "
        "routed message, not a new customer message",
    )
    agent_id: str | None = Field(
        default=None, max_length=512, description="the person who owns the conversation; null = waiting or no roster"
    )
    queued_reason: str | None = Field(default=None, description="why no agent took it yet (with agent_id null)")


class RoutedMessage(MessageFields):
    record_type: Literal["routed"] = "routed"
    classification: Classification
    routing: Routing


class Need(BaseModel):
    """What a conversation needs of an agent, carried by assignment events so every
    router replica can place it again (the team queue, an agent going offline)."""

    model_config = ConfigDict(extra="ignore")

    team: NonEmptyStr
    lane: Lane
    issue_type: IssueType
    priority: Priority
    language: str | None = Field(default=None, max_length=35)
    customer: str | None = Field(default=None, max_length=1100, description="platform:author id, for stickiness")
    since: UtcDatetime = Field(description="when the conversation started waiting for an agent")


class Correction(BaseModel):
    """What a person corrected about a message's classification (a ``reclassified`` event)."""

    model_config = ConfigDict(extra="ignore")

    message_id: Id = Field(description="the message whose classification is corrected")
    issue_type: IssueType
    lane: Lane | None = Field(default=None, description="null = the issue type's lane in the routing policy")
    priority: Priority | None = Field(
        default=None, description="null = the issue type's priority in the routing policy"
    )
    sentiment: SentimentLabel | None = None
    model_version: NonEmptyStr = Field(description="the model whose classification is corrected")


class ConversationEvent(Record):
    record_type: Literal["conversation_event"] = "conversation_event"
    event_id: Id
    conversation_id: Id
    type: ConversationEventType
    at: UtcDatetime
    actor: str | None = None
    agent_id: str | None = Field(default=None, max_length=512, description="assigned: who; unassigned: who left it")
    reason: str | None = Field(default=None, max_length=2000, description="why it was assigned or unassigned")
    need: Need | None = Field(
        default=None, description="assigned/unassigned by the router: what the conversation needs"
    )
    actor_kind: ActorKind | None = Field(
        default=None,
        description="human or automation (a bot, an auto-acknowledgement); absent means human. "
        "An automated reply never stops a response clock",
    )
    platform: Platform | None = None
    message_id: str | None = Field(default=None, description="the brand message that caused it, when one did")
    correction: Correction | None = Field(
        default=None, description="reclassified: the corrected classification; `actor` is who corrected it"
    )

    @model_validator(mode="after")
    def _correction_with_reclassified(self) -> "ConversationEvent":
        if (self.type is ConversationEventType.RECLASSIFIED) != (self.correction is not None):
            raise ValueError("a reclassified event carries a correction, and only a reclassified event does")
        return self


class Agent(Record):
    """An agent on the roster (``social.agents``, compacted, keyed by ``agent_id``)."""

    record_type: Literal["agent"] = "agent"
    agent_id: Id
    name: NonEmptyStr
    teams: list[NonEmptyStr] = Field(min_length=1, description="teams whose conversations the agent takes")
    skills: list[NonEmptyStr] = Field(
        default_factory=list, description="issue types and lanes the agent may take; empty = any"
    )
    languages: list[NonEmptyStr] = Field(
        default_factory=list, description="languages the agent answers in; empty = any"
    )
    capacity: int = Field(ge=0, le=10_000, description="open conversations at once")
    status: AgentStatus
    updated_at: UtcDatetime


class SlaAlert(Record):
    record_type: Literal["sla_alert"] = "sla_alert"
    alert_id: Annotated[str, Field(min_length=1, max_length=1024)]
    conversation_id: Id
    kind: AlertKind
    severity: Severity
    lane: Lane
    priority: Priority
    issue_type: IssueType
    platform: Platform | None = None
    owner: NonEmptyStr
    tier: Tier
    target_seconds: int = Field(ge=0)
    due_at: UtcDatetime
    elapsed_seconds: float = Field(ge=0)
    at: UtcDatetime
    response: ResponseKind | None = Field(
        default=None, description="for warning, breach and escalation: the first or the next response"
    )
    calendar: str | None = Field(default=None, description="the calendar the target was counted on")


class IssueTypeCount(BaseModel):
    model_config = ConfigDict(extra="ignore")

    issue_type: IssueType
    count: int = Field(ge=0)


class SurgeAlert(Record):
    """The inbox turning, not one conversation: a volume surge on a lane, platform or issue
    type (and its end), a lane turning negative, or a cluster of P1 messages. Published on
    ``social.sla-alerts`` beside the clocks' alerts, keyed ``<dimension>:<value>``."""

    record_type: Literal["surge_alert"] = "surge_alert"
    alert_id: Annotated[str, Field(min_length=1, max_length=1024)] = Field(
        description="the same for a repeat of the same alert: kind, dimension, value and window"
    )
    kind: SurgeKind
    severity: Severity
    dimension: SurgeDimension
    value: NonEmptyStr = Field(description="the lane, platform or issue type")
    count: int = Field(ge=0, description="messages in the window so far (negative ones for negative_share)")
    expected: float = Field(ge=0, description="what the baseline expected for the window (0 for a P1 cluster)")
    window_start: UtcDatetime
    window_seconds: int = Field(ge=1)
    at: UtcDatetime = Field(description="when it was noticed, in the stream's time")
    top_issue_types: list[IssueTypeCount] = Field(
        default_factory=list, description="the issue types driving a surge, most first"
    )
    campaigns: list[str] = Field(default_factory=list, description="planned campaigns active for this dimension")


class DeadLetter(Record):
    record_type: Literal["dead_letter"] = "dead_letter"
    stage: NonEmptyStr
    error: NonEmptyStr = Field(description="a reason a person can act on")
    original: str = Field(description="the bytes as received, as text or base64 (see original_encoding)")
    original_encoding: Literal["utf-8", "base64"] = "utf-8"
    headers: dict[str, str] = Field(default_factory=dict)
    source_topic: str | None = None
    source_partition: int | None = None
    source_offset: int | None = None
    at: UtcDatetime


AnyRecord = Annotated[
    RawEnvelope
    | SocialMessage
    | ClassifiedMessage
    | RoutedMessage
    | ConversationEvent
    | SlaAlert
    | SurgeAlert
    | DeadLetter
    | Agent,
    Field(discriminator="record_type"),
]

_any_record: TypeAdapter[AnyRecord] = TypeAdapter(AnyRecord)

RECORD_MODELS: dict[str, type[Record]] = {
    "raw_envelope": RawEnvelope,
    "message": SocialMessage,
    "classified": ClassifiedMessage,
    "routed": RoutedMessage,
    "conversation_event": ConversationEvent,
    "sla_alert": SlaAlert,
    "surge_alert": SurgeAlert,
    "dead_letter": DeadLetter,
    "agent": Agent,
}


def parse_record(data: str | bytes) -> AnyRecord:
    """Parse one JSON record of any type, chosen by its ``record_type``."""
    return _any_record.validate_json(data)
