"""What Meta's webhooks share: the ``object`` / ``entry`` envelope, ``messaging`` events
(Messenger and Instagram messaging) and entry times.

Messenger Platform webhooks: developers.facebook.com/docs/messenger-platform/webhooks
Instagram messaging webhooks: developers.facebook.com/docs/messenger-platform/instagram/features/webhook
"""

from datetime import datetime
from typing import Any

from triage_ingest.adapters.base import (
    AdapterContext,
    Extracted,
    PayloadError,
    Skipped,
    actor_kind,
    from_unix,
    message_id,
    need,
    need_list,
    need_str,
    optional,
    optional_str,
)
from triage_schemas.enums import Channel, Direction
from triage_schemas.records import Author, SocialMessage

# Messaging events that are not messages: counted and skipped on purpose.
NON_MESSAGE_EVENTS = (
    "read",
    "delivery",
    "reaction",
    "postback",
    "optin",
    "referral",
    "account_linking",
    "message_edit",
    "policy_enforcement",
    "standby",
)


def entries(payload: dict[str, Any], expected_object: str | tuple[str, ...]) -> list[Any]:
    wanted = (expected_object,) if isinstance(expected_object, str) else expected_object
    found = need_str(payload, "", "object")
    if found not in wanted:
        raise PayloadError(f"object is {found!r}; this adapter reads {' or '.join(map(repr, wanted))} webhooks")
    return need_list(payload, "", "entry")


def entry_time(value: Any, path: str) -> datetime:
    """Meta sends entry times in seconds for ``changes`` and milliseconds for ``messaging``."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PayloadError(f"{path} is not a unix timestamp")
    try:
        number = float(value)
        return from_unix(number, millis=number > 1e11)
    except (ValueError, OverflowError, OSError):
        raise PayloadError(f"{path} is not a unix timestamp: {str(value)[:40]!r}") from None


def messaging_events(payload: dict[str, Any], context: AdapterContext, object_name: str) -> list[Extracted]:
    """Messages in ``entry[].messaging[]``; the page's own messages come back as echoes."""
    platform = context.platform
    out: list[Extracted] = []
    for i, entry in enumerate(entries(payload, object_name)):
        where = f"entry[{i}]"
        account = need_str(entry, where, "id")
        if "messaging" not in entry and "changes" in entry:
            raise PayloadError(f"{where} has changes, not messaging: deliver {object_name} comment webhooks as such")
        for j, event in enumerate(need_list(entry, where, "messaging")):
            here = f"{where}.messaging[{j}]"
            if not isinstance(event, dict):
                raise PayloadError(f"{here} must be an object")
            message = event.get("message")
            if message is None:
                kind = next((k for k in NON_MESSAGE_EVENTS if k in event), "other")
                out.append(Skipped(kind))
                continue
            if optional(message, "is_deleted"):
                out.append(Skipped("deleted"))
                continue
            sender = need_str(event, here, "sender", "id")
            recipient = need_str(event, here, "recipient", "id")
            outbound = bool(message.get("is_echo")) or context.is_brand(sender) or sender == account
            customer = recipient if outbound else sender
            mid = need_str(message, f"{here}.message", "mid")
            # An echo names the app that sent it (``app_id``) and carries the Send API's
            # ``metadata`` when the sender set one (developers.facebook.com/docs/messenger-platform/
            # reference/webhook-events/message-echoes). A person typing in the Page or Instagram
            # inbox also produces an echo with an app_id, the inbox's own, so an app id alone
            # proves nothing: only a configured automation app, or the marker, does.
            automated = outbound and (
                context.automation.app(optional_str(message, "app_id"))
                or context.automation.metadata(optional_str(message, "metadata"))
            )
            out.append(
                SocialMessage(
                    message_id=message_id(platform, mid),
                    conversation_id=f"{platform.value}:dm:{account}:{customer}",
                    platform=platform,
                    channel=Channel.DIRECT_MESSAGE,
                    direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
                    account_id=account,
                    author=Author(id=sender),
                    text=_message_text(message),
                    created_at=entry_time(need(event, here, "timestamp"), f"{here}.timestamp"),
                    received_at=context.received_at,
                    reply_to=optional_str(message, "reply_to", "mid"),
                    actor_kind=actor_kind(automated),
                )
            )
    return out


def _message_text(message: dict[str, Any]) -> str:
    text = message.get("text")
    if isinstance(text, str):
        return text
    # An attachment-only message still starts the clock; say what it carried.
    kinds = [str(a.get("type", "file")) for a in message.get("attachments") or [] if isinstance(a, dict)]
    return " ".join(f"[{kind}]" for kind in kinds)
