"""Corrections: a person's reclassification re-routes the message it corrects.

Plain code with no Kafka in it. A ``reclassified`` conversation event names a message,
its corrected issue type (and optionally lane, priority, sentiment) and who corrected
it. The router re-routes the conversation's latest routed message with the corrected
classification: new owner, tier and deadlines, counted from when the message was
received, as if the classifier had been right. The re-routed record says which
correction it follows (``routing.corrected_by``), so the SLA monitor adopts its targets
for the open clock instead of taking it for a new customer message.

To re-route, the router needs the message: ``Recent`` holds the latest routed message
of each conversation (bounded; the Kafka wiring refills it from ``social.routed`` after a
restart, see ``app``).
"""

from collections import OrderedDict

from triage_router.policy import RoutingPolicy
from triage_router.records_io import routed
from triage_router.routing import carried_fields
from triage_runtime.delivery import Rejected
from triage_schemas.enums import Direction
from triage_schemas.records import ClassifiedMessage, ConversationEvent, RoutedMessage, Sentiment


class Recent:
    """The latest routed message of each conversation, as its record's bytes (parsed only
    when a correction needs it: the router reads every routed record back, and validating
    each one would cost more than routing it), the least recently seen dropped first."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._messages: OrderedDict[str, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._messages)

    def remember(self, conversation_id: str, value: bytes) -> None:
        if _OUTBOUND in value:
            return  # the brand's own messages are never reclassified
        self._messages[conversation_id] = value
        self._messages.move_to_end(conversation_id)
        if len(self._messages) > self.limit:
            self._messages.popitem(last=False)

    def forget(self, conversation_id: str) -> None:
        self._messages.pop(conversation_id, None)

    def get(self, conversation_id: str) -> RoutedMessage | None:
        value = self._messages.get(conversation_id)
        if value is None:
            return None
        try:
            message = RoutedMessage.model_validate_json(value)
        except ValueError:
            return None
        return message if message.direction is Direction.INBOUND else None


# How the router writes an outbound message (pydantic's compact JSON); a routed record
# written otherwise is parsed when a correction needs it and refused there if outbound.
_OUTBOUND = b'"direction":"outbound"'


def reroute(message: RoutedMessage, event: ConversationEvent, policy: RoutingPolicy) -> RoutedMessage:
    """``message`` routed again with ``event``'s corrected classification."""
    correction = event.correction
    assert correction is not None, "the correction step passes only reclassified events with their correction"
    before = message.classification
    rule = policy.issue_types[correction.issue_type]
    lane = correction.lane or rule.lane or before.lane
    priority = correction.priority or rule.priority or before.priority
    actor = event.actor or "a person"
    classification = before.model_copy(
        update={
            "issue_type": correction.issue_type,
            "lane": lane,
            "priority": priority,
            "sentiment": before.sentiment
            if correction.sentiment is None
            else Sentiment(label=correction.sentiment, score=1.0),
            "confidence": 1.0,  # a person decided
            "needs_review": False,
            "review_reasons": [],
            "reasons": [*before.reasons, f"corrected by {actor}"],
        }
    )
    fields = {**carried_fields(message), "classification": classification}
    del fields["routing"]
    again = routed(ClassifiedMessage.model_construct(**fields), policy)
    why = (
        f"reclassified by {actor}: {before.issue_type}/{before.lane}/{before.priority} -> "
        f"{correction.issue_type}/{lane}/{priority} (model {correction.model_version})"
    )
    routing = again.routing.model_copy(
        update={"corrected_by": event.event_id, "reasons": [why, *again.routing.reasons]}
    )
    return again.model_copy(update={"routing": routing})


def correction_target(event: ConversationEvent, recent: Recent) -> RoutedMessage:
    """The routed message a correction applies to, or ``Rejected`` saying why there is none."""
    correction = event.correction
    assert correction is not None
    message = recent.get(event.conversation_id)
    if message is None:
        raise Rejected(
            f"reclassified: conversation {event.conversation_id[:200]} is not among the routed messages this router "
            "remembers (resolved, or older than its memory); publish the classified message again with the "
            "corrected classification"
        )
    return message
