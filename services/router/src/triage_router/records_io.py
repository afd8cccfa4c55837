"""Turning inbound bytes into a classified message, with reasons a person can act on."""

from pydantic import ValidationError

from triage_router.policy import RoutingPolicy
from triage_router.routing import route
from triage_schemas.delivery import Inbound, Outbound, Rejected
from triage_schemas.records import ClassifiedMessage, RoutedMessage


def decode_classified(raw: bytes) -> ClassifiedMessage:
    try:
        return ClassifiedMessage.model_validate_json(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(record)'}: {e['msg']}" for e in error.errors()[:5]
        )
        raise Rejected(f"not a classified record: {problems}") from None


def route_inbound(policy: RoutingPolicy, routed_topic: str, inbound: Inbound) -> list[Outbound]:
    message: RoutedMessage = route(decode_classified(inbound.value), policy)
    return [Outbound(routed_topic, message.conversation_id, message)]
