"""Records in and out: Kafka bytes and offline JSON lines to classified messages."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from triage_classifier.classify import Classifier
from triage_runtime import safejson
from triage_runtime.delivery import Inbound, Outbound, Rejected, Result
from triage_runtime.jsonlines import validation_summary
from triage_schemas.enums import Channel, Direction, Platform
from triage_schemas.records import Author, ClassifiedMessage, SocialMessage, text_problem, utcnow

# The fields a bare offline line may carry besides ``text``.
SHORTHAND_FIELDS = {"text", "platform", "channel", "author_followers"}


def _validation_reason(error: ValidationError, what: str) -> str:
    return f"not a valid {what}: {validation_summary(error)}"


def parse_message(value: bytes) -> SocialMessage:
    """One ``message`` record from Kafka bytes, or ``Rejected`` saying what is wrong."""
    try:
        data = safejson.loads(value)
    except safejson.BadJson as error:
        raise Rejected(error.reason) from None
    if not isinstance(data, dict):
        raise Rejected(f"not a JSON object but {type(data).__name__}")
    if data.get("record_type") != "message":
        raise Rejected(f"record_type is {data.get('record_type')!r}; the classifier reads 'message' records")
    try:
        message = SocialMessage.model_validate(data)
    except ValidationError as error:
        raise Rejected(_validation_reason(error, "message")) from None
    # ingest refuses these; a producer writing to social.messages directly must not pass them on
    problem = text_problem(message.text)
    if problem is not None:
        raise Rejected(problem)
    return message


def classify_messages(messages: Sequence[SocialMessage], classifier: Classifier) -> list[ClassifiedMessage]:
    classifications = classifier.classify([message.text for message in messages])
    # The message was validated as it was read and the classification as it was built:
    # the classified record is assembled from both without validating either again.
    fields = [name for name in SocialMessage.model_fields if name != "record_type"]
    return [
        ClassifiedMessage.model_construct(
            **{name: getattr(message, name) for name in fields}, classification=classification
        )
        for message, classification in zip(messages, classifications, strict=True)
    ]


def classify_batch(classifier: Classifier, classified_topic: str, batch: Sequence[Inbound]) -> list[Result]:
    """The service's batch step: parse each record, then one model call for the valid ones."""
    parsed: list[SocialMessage | Rejected] = []
    for inbound in batch:
        try:
            parsed.append(parse_message(inbound.value))
        except Rejected as rejected:
            parsed.append(rejected)
    valid = [item for item in parsed if isinstance(item, SocialMessage)]
    done = iter(classify_messages(valid, classifier))
    results: list[Result] = []
    for item in parsed:
        if isinstance(item, Rejected):
            results.append(item)
        else:
            record = next(done)
            results.append([Outbound(classified_topic, record.conversation_id, record)])
    return results


def message_from_shorthand(data: dict[str, Any], now: datetime | None = None) -> SocialMessage:
    """Complete a bare ``{"text": ...}`` line into a message with generated ids.

    Raises ``ValueError`` naming the field when a value is unusable.
    """
    unknown = set(data) - SHORTHAND_FIELDS
    if unknown:
        raise ValueError(f"unexpected fields {sorted(unknown)} (a bare line takes {sorted(SHORTHAND_FIELDS)})")
    text = data.get("text")
    if not isinstance(text, str):
        raise ValueError("text must be a string")
    followers = data.get("author_followers")
    if followers is not None and (not isinstance(followers, int) or isinstance(followers, bool) or followers < 0):
        raise ValueError("author_followers must be a non-negative integer")
    try:
        platform = Platform(data.get("platform", Platform.X.value))
        channel = Channel(data.get("channel", Channel.PUBLIC_COMMENT.value))
    except ValueError as error:
        raise ValueError(str(error)) from None
    now = now or utcnow()
    generated = uuid.uuid4().hex
    return SocialMessage(
        message_id=f"offline:{generated}",
        conversation_id=f"offline:{generated}",
        platform=platform,
        channel=channel,
        direction=Direction.INBOUND,
        author=Author(id=f"offline-author:{generated}", followers=followers),
        text=text,
        created_at=now,
        received_at=now,
    )
