"""WhatsApp Business Cloud API: ``object: whatsapp_business_account`` webhooks with
``changes`` of field ``messages`` (customer messages and ``statuses`` of the business's
own) and ``smb_message_echoes`` (messages the business sent from the WhatsApp Business
app, when the number is shared with it: outbound).

Conversation: ``whatsapp:<phone_number_id>:<customer wa_id>``.
Docs: developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components,
developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples
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
    optional,
    optional_str,
    timestamp,
)
from triage_ingest.adapters.meta import entries
from triage_schemas.enums import Channel, Direction, Platform
from triage_schemas.records import Author, SocialMessage

NOT_MESSAGES = ("reaction", "unsupported", "system", "request_welcome", "ephemeral")


def parse(payload: dict[str, Any], context: AdapterContext) -> list[Extracted]:
    out: list[Extracted] = []
    for i, entry in enumerate(entries(payload, "whatsapp_business_account")):
        where = f"entry[{i}]"
        for j, change in enumerate(need_list(entry, where, "changes")):
            here = f"{where}.changes[{j}]"
            field = need_str(change, here, "field")
            value = need(change, here, "value")
            if field not in ("messages", "smb_message_echoes"):
                out.append(Skipped(field))
                continue
            number = need_str(value, f"{here}.value", "metadata", "phone_number_id")
            names = {
                str(c.get("wa_id")): optional_str(c, "profile", "name")
                for c in value.get("contacts") or []
                if isinstance(c, dict)
            }
            out += [Skipped("status") for _ in value.get("statuses") or []]
            out += [Skipped("error") for _ in value.get("errors") or []]
            echoes = field == "smb_message_echoes"
            key = "message_echoes" if echoes else "messages"
            for k, message in enumerate(value.get(key) or []):
                out.append(_message(message, f"{here}.value.{key}[{k}]", number, names, echoes, context))
    return out


def _message(
    message: Any, here: str, number: str, names: dict[str, str | None], echo: bool, context: AdapterContext
) -> Extracted:
    kind = need_str(message, here, "type")
    if kind in NOT_MESSAGES:
        return Skipped(kind)
    sender = need_str(message, here, "from")
    outbound = echo or context.is_brand(sender)
    customer = need_str(message, here, "to") if outbound else sender
    return SocialMessage(
        message_id=message_id(Platform.WHATSAPP, need_str(message, here, "id")),
        conversation_id=f"whatsapp:{number}:{customer}",
        platform=Platform.WHATSAPP,
        channel=Channel.DIRECT_MESSAGE,
        direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
        account_id=number,
        author=Author(id=sender, handle=None if outbound else names.get(sender)),
        text=_text(message, kind),
        created_at=timestamp(message, here, "timestamp"),
        received_at=context.received_at,
        reply_to=optional_str(message, "context", "id"),
    )


def _text(message: dict[str, Any], kind: str) -> str:
    for path in (
        ("text", "body"),
        (kind, "caption"),
        ("button", "text"),
        ("interactive", "button_reply", "title"),
        ("interactive", "list_reply", "title"),
    ):
        found = optional(message, *path)
        if isinstance(found, str):
            return found
    return f"[{kind}]"
