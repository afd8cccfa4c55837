"""Instagram: ``object: instagram`` webhooks, either messaging (DMs) or changes (comments,
live comments and mentions).

Conversations: a DM thread is ``instagram:dm:<IG account id>:<IGSID>``; a comment thread
is its root comment, ``instagram:comment:<parent_id, or the comment's own id>``, so the
brand's reply to a comment joins the comment's conversation.
A DM echo is automation as on Messenger (``app_id`` or ``metadata``); comment webhooks
name no app, so the brand's comments count as a person's.
Mentions (``field: mentions``) carry only ``media_id`` and ``comment_id``; the text and
author are read from ``text`` and ``from`` when a connector added them.
Docs: developers.facebook.com/docs/messenger-platform/instagram/features/webhook,
developers.facebook.com/docs/instagram-platform/webhooks (comments, mentions)
"""

from typing import Any

from triage_ingest.adapters.base import (
    AdapterContext,
    Extracted,
    Skipped,
    message_id,
    need,
    need_list,
    need_str,
    optional_str,
)
from triage_ingest.adapters.meta import entries, entry_time, messaging_events
from triage_schemas.enums import Channel, Direction, Platform
from triage_schemas.records import Author, SocialMessage

UNKNOWN_AUTHOR = "unknown"


def parse(payload: dict[str, Any], context: AdapterContext) -> list[Extracted]:
    items = entries(payload, "instagram")
    if all(isinstance(e, dict) and "messaging" in e for e in items):
        return messaging_events(payload, context, "instagram")
    out: list[Extracted] = []
    for i, entry in enumerate(items):
        where = f"entry[{i}]"
        if isinstance(entry, dict) and "messaging" in entry:
            out += messaging_events({"object": "instagram", "entry": [entry]}, context, "instagram")
            continue
        account = need_str(entry, where, "id")
        at = entry_time(need(entry, where, "time"), f"{where}.time")
        for j, change in enumerate(need_list(entry, where, "changes")):
            here = f"{where}.changes[{j}]"
            field = need_str(change, here, "field")
            value = need(change, here, "value")
            if field in ("comments", "live_comments"):
                out.append(_comment(value, f"{here}.value", account, at, context))
            elif field == "mentions":
                out.append(_mention(value, f"{here}.value", account, at, context))
            else:
                out.append(Skipped(field))
    return out


def _comment(value: Any, here: str, account: str, at: Any, context: AdapterContext) -> SocialMessage:
    comment = need_str(value, here, "id")
    author = need_str(value, here, "from", "id")
    outbound = context.is_brand(author) or author == account
    parent = optional_str(value, "parent_id")
    return SocialMessage(
        message_id=message_id(Platform.INSTAGRAM, comment),
        conversation_id=f"instagram:comment:{parent or comment}",
        platform=Platform.INSTAGRAM,
        channel=Channel.PUBLIC_COMMENT,
        direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
        account_id=account,
        author=Author(id=author, handle=optional_str(value, "from", "username")),
        text=need_str(value, here, "text") if "text" in value else "",
        created_at=at,
        received_at=context.received_at,
        reply_to=parent,
    )


def _mention(value: Any, here: str, account: str, at: Any, context: AdapterContext) -> SocialMessage:
    comment = optional_str(value, "comment_id")
    media = need_str(value, here, "media_id")
    author = optional_str(value, "from", "id") or UNKNOWN_AUTHOR
    return SocialMessage(
        message_id=message_id(Platform.INSTAGRAM, comment or media),
        conversation_id=f"instagram:comment:{comment or media}",
        platform=Platform.INSTAGRAM,
        channel=Channel.MENTION,
        direction=Direction.OUTBOUND if context.is_brand(author) else Direction.INBOUND,
        account_id=account,
        author=Author(id=author, handle=optional_str(value, "from", "username")),
        text=optional_str(value, "text") or "",
        created_at=at,
        received_at=context.received_at,
    )
