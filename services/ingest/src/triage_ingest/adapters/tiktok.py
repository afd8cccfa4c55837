"""TikTok Business Messaging: webhook events ``{client_key, event, create_time,
user_openid, content}`` where ``content`` is a JSON string. ``im_receive_msg`` is a
customer's message, ``im_send_msg`` the business's own (outbound); read receipts and
other events are skipped.

Conversation: TikTok's own ``conversation_id`` for the business-customer pair,
``tiktok:dm:<business open id>:<conversation_id>``.
Comments: TikTok documents comment webhooks only as a notification to fetch details by
API, with no comment text in the event, so they are skipped (kind ``comment``) and a
poller should publish the fetched comment instead.
Docs: business-api.tiktok.com/portal/docs (Business Messaging webhooks),
developers.tiktok.com/doc/webhooks-events (event envelope)
"""

import json
from typing import Any

from triage_ingest.adapters.base import (
    AdapterContext,
    Extracted,
    PayloadError,
    Skipped,
    message_id,
    need_str,
    optional,
    optional_str,
    timestamp,
)
from triage_schemas.enums import Channel, Direction, Platform
from triage_schemas.records import Author, SocialMessage

MESSAGE_EVENTS = {"im_receive_msg": Direction.INBOUND, "im_send_msg": Direction.OUTBOUND}


def parse(payload: dict[str, Any], context: AdapterContext) -> list[Extracted]:
    event = need_str(payload, "", "event")
    if event not in MESSAGE_EVENTS:
        return [Skipped("comment" if "comment" in event else event)]
    business = need_str(payload, "", "user_openid")
    raw = optional(payload, "content")
    if isinstance(raw, str):
        try:
            content = json.loads(raw)
        except json.JSONDecodeError as error:
            raise PayloadError(f"content is not a JSON string: {error.msg} at position {error.pos}") from None
    else:
        content = raw
    if not isinstance(content, dict):
        raise PayloadError("content is missing or not a JSON object")
    direction = MESSAGE_EVENTS[event]
    sender = optional_str(content, "from_user", "id") or need_str(content, "content", "unique_identifier")
    kind = optional_str(content, "type") or "text"
    text = optional(content, "text", "body")
    if not isinstance(text, str):
        link = optional_str(content, "share_post", "embed_url")
        text = link or f"[{kind}]"
    return [
        SocialMessage(
            message_id=message_id(Platform.TIKTOK, need_str(content, "content", "message_id")),
            conversation_id=f"tiktok:dm:{business}:{need_str(content, 'content', 'conversation_id')}",
            platform=Platform.TIKTOK,
            channel=Channel.DIRECT_MESSAGE,
            direction=Direction.OUTBOUND if direction is Direction.OUTBOUND or context.is_brand(sender) else direction,
            account_id=business,
            author=Author(id=sender, handle=optional_str(content, "from")),
            text=text,
            created_at=timestamp(content, "content", "timestamp", millis=True),
            received_at=context.received_at,
        )
    ]
