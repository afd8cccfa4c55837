"""Facebook Page feed: ``object: page`` webhooks with ``changes`` of field ``feed``
(comments and visitor posts) and ``mention`` (the page tagged in a post or comment).

Conversation: a comment thread is its root comment, ``facebook:comment:<id>`` (a
top-level comment is its own root; a reply's root is its ``parent_id``), so the page's
reply joins the thread. A visitor post is its own thread, ``facebook:post:<post_id>``.
Edits, removals, hides, reactions, likes and shares are counted and skipped.
Doc: developers.facebook.com/docs/graph-api/webhooks/reference/page/#feed
"""

from datetime import datetime
from typing import Any

from triage_ingest.adapters.base import (
    AdapterContext,
    Extracted,
    PayloadError,
    Skipped,
    iso_timestamp,
    message_id,
    need,
    need_list,
    need_str,
    optional,
    optional_str,
)
from triage_ingest.adapters.meta import entries, entry_time
from triage_schemas.enums import Channel, Direction, Platform
from triage_schemas.records import Author, SocialMessage


def parse(payload: dict[str, Any], context: AdapterContext) -> list[Extracted]:
    out: list[Extracted] = []
    for i, entry in enumerate(entries(payload, "page")):
        where = f"entry[{i}]"
        if isinstance(entry, dict) and "messaging" in entry:
            raise PayloadError(f"{where} has messaging events: publish Messenger webhooks with platform messenger")
        page = need_str(entry, where, "id")
        for j, change in enumerate(need_list(entry, where, "changes")):
            here = f"{where}.changes[{j}]"
            field = need_str(change, here, "field")
            value = need(change, here, "value")
            if field == "mention":
                out.append(_mention(value, f"{here}.value", page, context))
            elif field != "feed":
                out.append(Skipped(field))
            else:
                out.append(_feed(value, f"{here}.value", page, context))
    return out


def _feed(value: Any, here: str, page: str, context: AdapterContext) -> Extracted:
    item = need_str(value, here, "item")
    verb = need_str(value, here, "verb")
    if item not in ("comment", "post", "status", "photo", "video") or verb != "add":
        return Skipped(f"{item}_{verb}" if item in ("comment", "post", "status") else item)
    author = need_str(value, here, "from", "id")
    outbound = context.is_brand(author) or author == page
    post = need_str(value, here, "post_id")
    if item == "comment":
        comment = need_str(value, here, "comment_id")
        parent = optional_str(value, "parent_id")
        root = comment if parent in (None, post) else parent
        own_id, conversation, reply_to = comment, f"facebook:comment:{root}", parent if parent != post else None
    else:  # a visitor's post on the page is a thread of its own
        own_id, conversation, reply_to = post, f"facebook:post:{post}", None
    return SocialMessage(
        message_id=message_id(Platform.FACEBOOK, own_id),
        conversation_id=conversation,
        platform=Platform.FACEBOOK,
        channel=Channel.PUBLIC_COMMENT,
        direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
        account_id=page,
        author=Author(id=author, handle=optional_str(value, "from", "name")),
        text=optional_str(value, "message") or "",
        created_at=_created(value, here),
        received_at=context.received_at,
        reply_to=reply_to,
        permalink=optional_str(value, "post", "permalink_url"),
    )


def _mention(value: Any, here: str, page: str, context: AdapterContext) -> Extracted:
    if optional_str(value, "verb") not in (None, "add"):
        return Skipped(f"mention_{value['verb']}")
    own_id = optional_str(value, "comment_id") or need_str(value, here, "post_id")
    author = optional_str(value, "sender_id") or optional_str(value, "from", "id") or "unknown"
    return SocialMessage(
        message_id=message_id(Platform.FACEBOOK, own_id),
        conversation_id=f"facebook:mention:{own_id}",
        platform=Platform.FACEBOOK,
        channel=Channel.MENTION,
        direction=Direction.INBOUND,
        account_id=page,
        author=Author(id=author, handle=optional_str(value, "sender_name")),
        text=optional_str(value, "message") or "",
        created_at=_created(value, here) if "created_time" in value else context.received_at,
        received_at=context.received_at,
    )


def _created(value: Any, here: str) -> datetime:
    raw = optional(value, "created_time")
    if isinstance(raw, str) and not raw.isdigit():
        return iso_timestamp(value, here, "created_time")
    return entry_time(need(value, here, "created_time"), f"{here}.created_time")
