"""Platform webhook payloads as each platform documents them, for the demo source.

Each builder returns what the platform would POST (or, for YouTube, what the Data API
returns to a poller): the ingest service's adapters read exactly these shapes. Only the
fields a real delivery carries; ids are made unique per demo run by the caller.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from triage_schemas.enums import Platform

# The brand's own accounts in the demo; ingest is told them through its settings.
BRAND_IDS: dict[Platform, str] = {
    Platform.MESSENGER: "104729368112345",
    Platform.FACEBOOK: "104729368112345",
    Platform.INSTAGRAM: "17841400008460056",
    Platform.WHATSAPP: "106540352242922",
    Platform.X: "2244994945",
    Platform.YOUTUBE: "UCdemoBrandChannel0000001",
    Platform.TELEGRAM: "7012345678",
    Platform.TIKTOK: "act.northwind0000000000000000demo",
    Platform.LINKEDIN: "urn:li:organization:96072893",
}
BRAND_HANDLES = {Platform.X: "northwind_help", Platform.INSTAGRAM: "northwind", Platform.TELEGRAM: "northwind_bot"}
WHATSAPP_PHONE_NUMBER_ID = "106540352242922"


@dataclass(frozen=True)
class Customer:
    id: str
    handle: str
    name: str
    followers: int


@dataclass(frozen=True)
class Event:
    platform: Platform
    payload: dict[str, Any]


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _s(at: datetime) -> int:
    return int(at.timestamp())


def _messaging(platform: Platform, mid: str, customer: Customer, text: str, at: datetime, *, echo: bool) -> Event:
    """Messenger and Instagram messaging webhooks share one shape; the brand's own
    message comes back as an echo (``message.is_echo``).
    developers.facebook.com/docs/messenger-platform/webhooks,
    developers.facebook.com/docs/messenger-platform/instagram/features/webhook"""
    account = BRAND_IDS[platform]
    sender, recipient = (account, customer.id) if echo else (customer.id, account)
    message: dict[str, Any] = {"mid": mid, "text": text}
    if echo:
        message["is_echo"] = True
    event = {"sender": {"id": sender}, "recipient": {"id": recipient}, "timestamp": _ms(at), "message": message}
    payload = {
        "object": "page" if platform is Platform.MESSENGER else "instagram",
        "entry": [{"id": account, "time": _ms(at), "messaging": [event]}],
    }
    return Event(platform, payload)


def messenger_dm(uid: str, customer: Customer, text: str, at: datetime) -> Event:
    return _messaging(Platform.MESSENGER, f"m_{uid}", customer, text, at, echo=False)


def messenger_echo(uid: str, customer: Customer, text: str, at: datetime) -> Event:
    return _messaging(Platform.MESSENGER, f"m_{uid}", customer, text, at, echo=True)


def instagram_dm(uid: str, customer: Customer, text: str, at: datetime) -> Event:
    return _messaging(Platform.INSTAGRAM, f"aWdfZAG1faXRlbToxOk{uid}", customer, text, at, echo=False)


def instagram_echo(uid: str, customer: Customer, text: str, at: datetime) -> Event:
    return _messaging(Platform.INSTAGRAM, f"aWdfZAG1faXRlbToxOk{uid}", customer, text, at, echo=True)


def instagram_comment(uid: str, customer: Customer, text: str, at: datetime) -> Event:
    # developers.facebook.com/docs/instagram-platform/webhooks (comments field)
    comment_id = f"1790{uid}"
    payload = {
        "object": "instagram",
        "entry": [
            {
                "id": BRAND_IDS[Platform.INSTAGRAM],
                "time": _s(at),
                "changes": [
                    {
                        "field": "comments",
                        "value": {
                            "from": {"id": customer.id, "username": customer.handle},
                            "media": {"id": "17958475532301190", "media_product_type": "FEED"},
                            "id": comment_id,
                            "text": text,
                        },
                    }
                ],
            }
        ],
    }
    return Event(Platform.INSTAGRAM, payload)


def facebook_comment(uid: str, customer: Customer, text: str, at: datetime) -> Event:
    # developers.facebook.com/docs/graph-api/webhooks/reference/page/#feed
    page = BRAND_IDS[Platform.FACEBOOK]
    post_id = f"{page}_893002418832171"
    comment_id = f"893002418832171_{uid}"
    payload = {
        "object": "page",
        "entry": [
            {
                "id": page,
                "time": _s(at),
                "changes": [
                    {
                        "field": "feed",
                        "value": {
                            "from": {"id": customer.id, "name": customer.name},
                            "post": {"status_type": "added_photos", "is_published": True, "id": post_id},
                            "message": text,
                            "post_id": post_id,
                            "comment_id": comment_id,
                            "created_time": _s(at),
                            "item": "comment",
                            "parent_id": post_id,
                            "verb": "add",
                        },
                    }
                ],
            }
        ],
    }
    return Event(Platform.FACEBOOK, payload)


def whatsapp_text(uid: str, customer: Customer, text: str, at: datetime) -> Event:
    # developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples (text message)
    wamid = f"wamid.HBgLMTU1NTAxMjM0NTY{uid}"
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": WHATSAPP_PHONE_NUMBER_ID,
                            },
                            "contacts": [{"profile": {"name": customer.name}, "wa_id": customer.id}],
                            "messages": [
                                {
                                    "from": customer.id,
                                    "id": wamid,
                                    "timestamp": str(_s(at)),
                                    "text": {"body": text},
                                    "type": "text",
                                }
                            ],
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }
    return Event(Platform.WHATSAPP, payload)


def _x_user(user_id: str, handle: str, name: str, followers: int) -> dict[str, Any]:
    return {"id": user_id, "name": name, "screen_name": handle, "followers_count": followers}


def x_dm(uid: str, customer: Customer, text: str, at: datetime, *, from_brand: bool = False) -> Event:
    # developer.x.com/en/docs/x-api/enterprise/account-activity-api (direct_message_events)
    brand = BRAND_IDS[Platform.X]
    sender, recipient = (brand, customer.id) if from_brand else (customer.id, brand)
    dm_id = str(int(uid, 16))  # X ids are numbers
    payload = {
        "for_user_id": brand,
        "direct_message_events": [
            {
                "type": "message_create",
                "id": dm_id,
                "created_timestamp": str(_ms(at)),
                "message_create": {
                    "target": {"recipient_id": recipient},
                    "sender_id": sender,
                    "message_data": {
                        "text": text,
                        "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []},
                    },
                },
            }
        ],
        "users": {
            customer.id: _x_user(customer.id, customer.handle, customer.name, customer.followers),
            brand: _x_user(brand, BRAND_HANDLES[Platform.X], "Northwind Help", 48210),
        },
    }
    return Event(Platform.X, payload)


def x_echo(uid: str, customer: Customer, text: str, at: datetime) -> Event:
    return x_dm(uid, customer, text, at, from_brand=True)


def x_mention(uid: str, customer: Customer, text: str, at: datetime) -> Event:
    # Account Activity tweet_create_events carry v1.1 Tweet objects.
    brand = BRAND_IDS[Platform.X]
    tweet_id = str(int(uid, 16))
    handle = BRAND_HANDLES[Platform.X]
    body = f"@{handle} {text}"
    payload = {
        "for_user_id": brand,
        "tweet_create_events": [
            {
                "created_at": at.strftime("%a %b %d %H:%M:%S +0000 %Y"),
                "id": int(tweet_id),
                "id_str": tweet_id,
                "text": body,
                "truncated": False,
                "in_reply_to_status_id": None,
                "in_reply_to_status_id_str": None,
                "in_reply_to_user_id_str": None,
                "user": {
                    "id": int(customer.id),
                    "id_str": customer.id,
                    "name": customer.name,
                    "screen_name": customer.handle,
                    "followers_count": customer.followers,
                },
                "entities": {
                    "hashtags": [],
                    "urls": [],
                    "user_mentions": [
                        {
                            "screen_name": handle,
                            "name": "Northwind Help",
                            "id": int(brand),
                            "id_str": brand,
                            "indices": [0, len(handle) + 1],
                        }
                    ],
                },
                "lang": "en",
                "timestamp_ms": str(_ms(at)),
            }
        ],
    }
    return Event(Platform.X, payload)


def youtube_comment(uid: str, customer: Customer, text: str, at: datetime) -> Event:
    # developers.google.com/youtube/v3/docs/commentThreads#resource, as a poller publishes it
    thread_id = f"Ugz{uid}"
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    payload = {
        "kind": "youtube#commentThread",
        "etag": f"etag{uid}",
        "id": thread_id,
        "snippet": {
            "channelId": BRAND_IDS[Platform.YOUTUBE],
            "videoId": "dQw4w9WgXcQ",
            "topLevelComment": {
                "kind": "youtube#comment",
                "etag": f"etagc{uid}",
                "id": thread_id,
                "snippet": {
                    "channelId": BRAND_IDS[Platform.YOUTUBE],
                    "videoId": "dQw4w9WgXcQ",
                    "textDisplay": text,
                    "textOriginal": text,
                    "authorDisplayName": f"@{customer.handle}",
                    "authorProfileImageUrl": "https://yt3.ggpht.com/a/default-user=s48-c-k-c0x00ffffff-no-rj",
                    "authorChannelUrl": f"http://www.youtube.com/@{customer.handle}",
                    "authorChannelId": {"value": customer.id},
                    "canRate": True,
                    "viewerRating": "none",
                    "likeCount": 0,
                    "publishedAt": stamp,
                    "updatedAt": stamp,
                },
            },
            "canReply": True,
            "totalReplyCount": 0,
            "isPublic": True,
        },
    }
    return Event(Platform.YOUTUBE, payload)


def telegram_private(uid: str, customer: Customer, text: str, at: datetime) -> Event:
    # core.telegram.org/bots/api#update
    update_id = int(uid[-9:], 16) % 900_000_000
    message_id = int(uid[-6:], 16) % 1_000_000
    payload = {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "from": {
                "id": int(customer.id),
                "is_bot": False,
                "first_name": customer.name.split()[0],
                "username": customer.handle,
                "language_code": "en",
            },
            "chat": {
                "id": int(customer.id),
                "first_name": customer.name.split()[0],
                "username": customer.handle,
                "type": "private",
            },
            "date": _s(at),
            "text": text,
        },
    }
    return Event(Platform.TELEGRAM, payload)


def _tiktok(uid: str, customer: Customer, text: str, at: datetime, *, sent: bool) -> Event:
    # TikTok Business Messaging webhook; ``content`` is a JSON string
    business = BRAND_IDS[Platform.TIKTOK]
    sender, recipient = (business, customer.id) if sent else (customer.id, business)
    content = {
        "timestamp": _ms(at),
        "unique_identifier": customer.id,
        "from_user": {"id": sender, "role": "business_account" if sent else "personal_account"},
        "to_user": {"id": recipient, "role": "personal_account" if sent else "business_account"},
        "from": "northwind" if sent else customer.handle,
        "to": customer.handle if sent else "northwind",
        "conversation_id": f"conv-{customer.id}",
        "message_id": f"msg-{uid}",
        "type": "text",
        "text": {"body": text},
    }
    payload = {
        "client_key": "demo-client-key",
        "event": "im_send_msg" if sent else "im_receive_msg",
        "create_time": _s(at),
        "user_openid": business,
        "content": json.dumps(content),
    }
    return Event(Platform.TIKTOK, payload)


def tiktok_dm(uid: str, customer: Customer, text: str, at: datetime) -> Event:
    return _tiktok(uid, customer, text, at, sent=False)


def tiktok_echo(uid: str, customer: Customer, text: str, at: datetime) -> Event:
    return _tiktok(uid, customer, text, at, sent=True)


def _linkedin(uid: str, customer: Customer, text: str, at: datetime, *, admin: bool) -> Event:
    # organization social action notification, as LinkedIn pushes it
    organization = BRAND_IDS[Platform.LINKEDIN]
    post = f"urn:li:activity:{customer.id}"  # one post per demo customer keeps threads apart
    comment = f"urn:li:comment:({post},{int(uid, 16) % 10**19})"
    payload = {
        "type": "ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS",
        "notifications": [
            {
                "notificationId": int(uid, 16) % 10**10,
                "organizationalEntity": organization,
                "action": "ADMIN_COMMENT" if admin else "COMMENT",
                "sourcePost": post,
                "generatedActivity": comment,
                "decoratedGeneratedActivity": {
                    "comment": {
                        "owner": organization if admin else f"urn:li:person:{customer.handle}",
                        "text": text,
                        "entity": comment,
                        "object": post,
                    }
                },
                "lastModifiedAt": _ms(at),
                "subscriber": "urn:li:person:demoAdmin",
            }
        ],
    }
    return Event(Platform.LINKEDIN, payload)


def linkedin_comment(uid: str, customer: Customer, text: str, at: datetime) -> Event:
    return _linkedin(uid, customer, text, at, admin=False)


def linkedin_echo(uid: str, customer: Customer, text: str, at: datetime) -> Event:
    return _linkedin(uid, customer, text, at, admin=True)


Builder = Callable[[str, Customer, str, datetime], Event]

INBOUND: dict[str, Builder] = {
    "messenger_dm": messenger_dm,
    "instagram_dm": instagram_dm,
    "instagram_comment": instagram_comment,
    "facebook_comment": facebook_comment,
    "whatsapp": whatsapp_text,
    "x_dm": x_dm,
    "x_mention": x_mention,
    "youtube_comment": youtube_comment,
    "telegram": telegram_private,
    "tiktok_dm": tiktok_dm,
    "linkedin_comment": linkedin_comment,
}
"""Inbound customer messages, one builder per event kind."""

ECHO: dict[str, Builder] = {
    "messenger_dm": messenger_echo,
    "instagram_dm": instagram_echo,
    "x_dm": x_echo,
    "tiktok_dm": tiktok_echo,
    "linkedin_comment": linkedin_echo,
}
"""Kinds whose brand reply comes back through the platform as an echo; the rest are
answered the way a help desk does it, with an ``agent_replied`` conversation event."""
