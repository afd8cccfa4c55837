"""Telegram Bot API ``Update`` objects (webhook or getUpdates).

``message``, ``channel_post`` and ``business_message`` carry messages; edits, callback
queries, membership changes, polls and reactions are skipped. A private chat is a direct
message; in a group a message that mentions the bot (or replies to it) is a mention and
any other is a public comment. A message from a configured brand account (a business
account's own message, or the bot) is outbound. A bot's message is automation: ``from.is_bot``,
or ``sender_business_bot``, the bot that sent a business account's message on its behalf.
Conversations: a private chat is ``telegram:chat:<chat id>``; in a group, a reply thread
is ``telegram:chat:<chat id>:<message_thread_id, or the replied-to message id, or its own>``.
Doc: core.telegram.org/bots/api#update, core.telegram.org/bots/api#message
"""

from typing import Any

from triage_ingest.adapters.base import (
    AdapterContext,
    Extracted,
    PayloadError,
    Skipped,
    actor_kind,
    message_id,
    need,
    need_str,
    optional,
    optional_str,
    timestamp,
)
from triage_schemas.enums import Channel, Direction, Platform
from triage_schemas.records import Author, SocialMessage

MESSAGE_KEYS = ("message", "business_message", "channel_post")
SKIPPED_KEYS = (
    "edited_message",
    "edited_channel_post",
    "edited_business_message",
    "deleted_business_messages",
    "business_connection",
    "callback_query",
    "inline_query",
    "chosen_inline_result",
    "message_reaction",
    "message_reaction_count",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "poll",
    "poll_answer",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "chat_boost",
    "removed_chat_boost",
)


def parse(payload: dict[str, Any], context: AdapterContext) -> list[Extracted]:
    need_str(payload, "", "update_id")
    key = next((k for k in MESSAGE_KEYS if k in payload), None)
    if key is None:
        skipped = next((k for k in SKIPPED_KEYS if k in payload), None)
        if skipped is None:
            raise PayloadError("update has no message and no known update type")
        return [Skipped(skipped)]
    message = need(payload, "", key)
    chat = need_str(message, key, "chat", "id")
    chat_type = need_str(message, key, "chat", "type")
    sender = optional_str(message, "from", "id") or optional_str(message, "sender_chat", "id") or chat
    text = optional(message, "text")
    if not isinstance(text, str):
        text = optional(message, "caption")
    if not isinstance(text, str):
        kind = next((k for k in ("photo", "video", "voice", "document", "sticker", "location") if k in message), None)
        if kind in (None, "sticker"):
            return [Skipped(kind or "service_message")]
        text = f"[{kind}]"
    own_id = need_str(message, key, "message_id")
    replied = optional_str(message, "reply_to_message", "message_id")
    private = chat_type == "private"
    # sender_business_bot is set only on the business account's outgoing messages that its
    # connected bot sent (core.telegram.org/bots/api#message), so it also marks them as the brand's.
    automated = optional(message, "from", "is_bot") is True or optional(message, "sender_business_bot") is not None
    outbound = context.is_brand(sender) or automated
    if private:
        conversation, channel = f"telegram:chat:{chat}", Channel.DIRECT_MESSAGE
    else:
        root = optional_str(message, "message_thread_id") or replied or own_id
        conversation = f"telegram:chat:{chat}:{root}"
        channel = Channel.MENTION if _mentions_brand(message, context) else Channel.PUBLIC_COMMENT
    username = optional_str(message, "chat", "username")
    return [
        SocialMessage(
            message_id=message_id(Platform.TELEGRAM, f"{chat}:{own_id}"),
            conversation_id=conversation,
            platform=Platform.TELEGRAM,
            channel=channel,
            direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
            account_id=optional_str(message, "business_connection_id") or context.account_id,
            author=Author(id=sender, handle=optional_str(message, "from", "username")),
            text=text,
            created_at=timestamp(message, key, "date"),
            received_at=context.received_at,
            reply_to=f"{chat}:{replied}" if replied else None,
            permalink=f"https://t.me/{username}/{own_id}" if username and not private else None,
            actor_kind=actor_kind(automated),
        )
    ]


def _mentions_brand(message: dict[str, Any], context: AdapterContext) -> bool:
    replied_to = optional_str(message, "reply_to_message", "from", "id")
    if replied_to is not None and context.is_brand(replied_to):
        return True
    return any(
        isinstance(entity, dict) and entity.get("type") in ("mention", "text_mention")
        for entity in message.get("entities") or []
    )
