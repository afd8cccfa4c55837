"""Facebook Messenger: ``object: page`` webhooks with ``entry[].messaging[]`` events.

Conversation: the DM thread of the page and the customer, ``messenger:dm:<page id>:<PSID>``.
An echo (``message.is_echo``, the page's own message) is outbound; it is automation when
its ``app_id`` is a configured automation app or its ``metadata`` holds the marker.
Doc: developers.facebook.com/docs/messenger-platform/webhooks
"""

from typing import Any

from triage_ingest.adapters.base import AdapterContext, Extracted
from triage_ingest.adapters.meta import messaging_events


def parse(payload: dict[str, Any], context: AdapterContext) -> list[Extracted]:
    return messaging_events(payload, context, "page")
