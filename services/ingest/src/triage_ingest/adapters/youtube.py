"""YouTube: Data API v3 ``commentThread`` resources as a poller publishes them (YouTube
has no comment webhook), one resource or a ``youtube#commentThreadListResponse`` page.

Conversation: the thread, ``youtube:thread:<commentThread id>``; its top-level comment
and every reply in ``replies.comments`` are messages of it. A comment by the channel
that owns the video (``authorChannelId`` equal to the thread's ``channelId``) or by a
configured brand channel is outbound. A poller sees the same thread again with new
replies: the comments already seen are duplicates and are processed once.
Doc: developers.google.com/youtube/v3/docs/commentThreads#resource,
developers.google.com/youtube/v3/docs/comments#resource
"""

from typing import Any

from triage_ingest.adapters.base import (
    AdapterContext,
    Extracted,
    PayloadError,
    iso_timestamp,
    message_id,
    need,
    need_list,
    need_str,
    optional,
    optional_str,
)
from triage_schemas.enums import Channel, Direction, Platform
from triage_schemas.records import Author, SocialMessage


def parse(payload: dict[str, Any], context: AdapterContext) -> list[Extracted]:
    kind = need_str(payload, "", "kind")
    if kind == "youtube#commentThreadListResponse":
        threads = [(item, f"items[{i}]") for i, item in enumerate(need_list(payload, "", "items"))]
    elif kind == "youtube#commentThread":
        threads = [(payload, "")]
    else:
        raise PayloadError(f"kind is {kind!r}; expected youtube#commentThread or youtube#commentThreadListResponse")
    out: list[Extracted] = []
    for thread, here in threads:
        thread_id = need_str(thread, here, "id")
        owner = optional_str(thread, "snippet", "channelId")
        top = need(thread, here, "snippet", "topLevelComment")
        where = f"{here}.snippet.topLevelComment" if here else "snippet.topLevelComment"
        out.append(_comment(top, where, thread_id, owner, None, context))
        for i, reply in enumerate(optional(thread, "replies", "comments") or []):
            out.append(_comment(reply, f"{here}.replies.comments[{i}]".lstrip("."), thread_id, owner, top, context))
    return out


def _comment(
    comment: Any, here: str, thread: str, owner: str | None, top: Any, context: AdapterContext
) -> SocialMessage:
    comment_id = need_str(comment, here, "id")
    snippet = need(comment, here, "snippet")
    author = optional_str(snippet, "authorChannelId", "value") or need_str(
        snippet, f"{here}.snippet", "authorDisplayName"
    )
    outbound = author == owner or context.is_brand(author)
    video = optional_str(snippet, "videoId")
    text = optional_str(snippet, "textOriginal") or optional_str(snippet, "textDisplay") or ""
    return SocialMessage(
        message_id=message_id(Platform.YOUTUBE, comment_id),
        conversation_id=f"youtube:thread:{thread}",
        platform=Platform.YOUTUBE,
        channel=Channel.PUBLIC_COMMENT,
        direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
        account_id=owner,
        author=Author(id=author, handle=optional_str(snippet, "authorDisplayName")),
        text=text,
        created_at=iso_timestamp(snippet, f"{here}.snippet", "publishedAt"),
        received_at=context.received_at,
        reply_to=optional_str(snippet, "parentId") or (optional_str(top, "id") if top is not None else None),
        permalink=f"https://www.youtube.com/watch?v={video}&lc={comment_id}" if video else None,
    )
