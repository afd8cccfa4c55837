"""X (Twitter): Account Activity API webhook events for the subscribed account
``for_user_id``: ``tweet_create_events`` (v1.1 Tweet objects) and
``direct_message_events`` (``message_create``, with a ``users`` map).

Conversations: a DM thread is ``x:dm:<brand id>:<customer id>``. A customer's post is
its own thread, ``x:tweet:<id>``; the brand's reply to it (``in_reply_to_status_id``)
joins that thread. A post replying to one of the brand's posts is a public comment;
any other post that reaches the account (a mention) is a mention.
Likes, follows, typing indicators, read receipts, deletes and blocks are skipped.
The brand's post or DM is automation when the app that sent it is a configured
automation source: a post's ``source`` (an HTML link to the app, its name as text), a
sent DM's ``message_create.source_app_id`` and that app's name in the ``apps`` map.
Doc: docs.x.com/x-api/enterprise-gnip-2.0/fundamentals/account-activity
"""

import html
from datetime import datetime
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
    optional_int,
    optional_str,
    timestamp,
)
from triage_schemas.enums import Channel, Direction, Platform
from triage_schemas.records import Author, SocialMessage

SKIPPED_EVENTS = {
    "favorite_events": "favorite",
    "follow_events": "follow",
    "unfollow_events": "unfollow",
    "block_events": "block",
    "unblock_events": "unblock",
    "mute_events": "mute",
    "unmute_events": "unmute",
    "tweet_delete_events": "delete",
    "direct_message_indicate_typing_events": "typing",
    "direct_message_mark_read_events": "read",
    "user_event": "user_event",
}


def parse(payload: dict[str, Any], context: AdapterContext) -> list[Extracted]:
    brand = need_str(payload, "", "for_user_id")
    out: list[Extracted] = []
    for key, kind in SKIPPED_EVENTS.items():
        events = payload.get(key)
        out += [Skipped(kind) for _ in (events if isinstance(events, list) else [events] if events else [])]
    for i, tweet in enumerate(payload.get("tweet_create_events") or []):
        out.append(_tweet(tweet, f"tweet_create_events[{i}]", brand, context))
    listed = payload.get("users")
    users: dict[str, Any] = listed if isinstance(listed, dict) else {}
    listed_apps = payload.get("apps")
    apps: dict[str, Any] = listed_apps if isinstance(listed_apps, dict) else {}
    for i, event in enumerate(payload.get("direct_message_events") or []):
        out.append(_dm(event, f"direct_message_events[{i}]", brand, users, apps, context))
    if not out:
        raise PayloadError("no Account Activity events (tweet_create_events, direct_message_events, ...) in payload")
    return out


def _tweet(tweet: Any, here: str, brand: str, context: AdapterContext) -> SocialMessage:
    tweet_id = need_str(tweet, here, "id_str")
    author = need_str(tweet, here, "user", "id_str")
    parent = optional_str(tweet, "in_reply_to_status_id_str")
    outbound = author == brand or context.is_brand(author)
    # A post that starts with @brand has in_reply_to_user_id set without replying to a post:
    # that is a mention; a reply in one of the brand's threads is a public comment.
    replying_to_brand = parent is not None and optional_str(tweet, "in_reply_to_user_id_str") == brand
    handle = optional_str(tweet, "user", "screen_name")
    text = optional(tweet, "extended_tweet", "full_text") or need_str(tweet, here, "text")
    automated = outbound and context.automation.source(*_source_names(optional_str(tweet, "source")))
    return SocialMessage(
        message_id=message_id(Platform.X, tweet_id),
        conversation_id=f"x:tweet:{parent if outbound and parent else tweet_id}",
        platform=Platform.X,
        channel=Channel.PUBLIC_COMMENT if replying_to_brand or outbound else Channel.MENTION,
        direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
        account_id=brand,
        author=Author(id=author, handle=handle, followers=optional_int(tweet, "user", "followers_count")),
        text=str(text),
        created_at=_tweet_time(tweet, here),
        received_at=context.received_at,
        reply_to=parent,
        permalink=f"https://x.com/{handle or 'i'}/status/{tweet_id}",
        actor_kind=actor_kind(automated),
    )


def _source_names(source: str | None) -> tuple[str, ...]:
    """The app's name and the raw ``source``, either of which may be configured.

    A post's ``source`` is the app that posted it as an HTML link,
    ``<a href="https://sproutsocial.com" rel="nofollow">Sprout Social</a>``
    (developer.x.com/en/docs/twitter-api/v1/data-dictionary/object-model/tweet).
    Read with string searches, not a regular expression, so a hostile value costs linear time.
    """
    if source is None:
        return ()
    opened, closed = source.find(">"), source.rfind("</a>")
    if source[:2].lower() == "<a" and 0 <= opened < closed:
        return html.unescape(source[opened + 1 : closed]), source
    return (source,)


def _tweet_time(tweet: Any, here: str) -> datetime:
    if optional(tweet, "timestamp_ms") is not None:
        return timestamp(tweet, here, "timestamp_ms", millis=True)
    created = need_str(tweet, here, "created_at")
    try:
        return datetime.strptime(created, "%a %b %d %H:%M:%S %z %Y")
    except ValueError:
        raise PayloadError(f"{here}.created_at is not an X timestamp: {created[:40]!r}") from None


def _dm(
    event: Any, here: str, brand: str, users: dict[str, Any], apps: dict[str, Any], context: AdapterContext
) -> Extracted:
    if need_str(event, here, "type") != "message_create":
        return Skipped(str(event["type"]))
    sender = need_str(event, here, "message_create", "sender_id")
    recipient = need_str(event, here, "message_create", "target", "recipient_id")
    outbound = sender == brand or context.is_brand(sender)
    customer = recipient if outbound else sender
    profile = users.get(sender) if isinstance(users.get(sender), dict) else {}
    # X names the app only on DMs the account sent, as an id with its entry in ``apps``
    # (developer.x.com/en/docs/direct-messages/conversation-management/guides/source-app).
    app = optional_str(event, "message_create", "source_app_id")
    automated = outbound and context.automation.source(app, optional_str(apps, app, "name") if app else None)
    return SocialMessage(
        message_id=message_id(Platform.X, need_str(event, here, "id")),
        conversation_id=f"x:dm:{brand}:{customer}",
        platform=Platform.X,
        channel=Channel.DIRECT_MESSAGE,
        direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
        account_id=brand,
        author=Author(
            id=sender,
            handle=optional_str(profile, "screen_name"),
            followers=optional_int(profile, "followers_count"),
        ),
        text=str(need(event, here, "message_create", "message_data", "text")),
        created_at=timestamp(event, here, "created_timestamp", millis=True),
        received_at=context.received_at,
        actor_kind=actor_kind(automated),
    )
