"""Turning inbound bytes into a classified message, with reasons a person can act on."""

from typing import Any

from pydantic import ValidationError

from triage_router.policy import RoutingPolicy
from triage_router.routing import route
from triage_runtime import safejson
from triage_runtime.delivery import Inbound, Outbound, Rejected
from triage_runtime.jsonlines import validation_summary
from triage_schemas.records import ClassifiedMessage, RoutedMessage


def classified_from(data: Any) -> ClassifiedMessage:
    """A parsed JSON value as a classified message, or ``Rejected`` saying what is wrong."""
    try:
        return ClassifiedMessage.model_validate(data)
    except ValidationError as error:
        raise Rejected(f"not a classified record: {validation_summary(error)}") from None


def decode_classified(raw: bytes) -> ClassifiedMessage:
    try:
        data = safejson.loads(raw)
    except safejson.BadJson as error:
        raise Rejected(f"record is {error.reason}") from None
    return classified_from(data)


def routed(message: ClassifiedMessage, policy: RoutingPolicy) -> RoutedMessage:
    """The routing decision, or ``Rejected`` when the message's own times make one
    impossible (a deadline past the last timestamp a record may carry)."""
    try:
        return route(message, policy)
    except ValidationError as error:
        raise Rejected(f"cannot route: {validation_summary(error)}") from None
    except (OverflowError, ValueError) as error:
        raise Rejected(f"cannot route: {error}") from None


def route_inbound(policy: RoutingPolicy, routed_topic: str, inbound: Inbound) -> list[Outbound]:
    message = routed(decode_classified(inbound.value), policy)
    return [Outbound(routed_topic, message.conversation_id, message)]
