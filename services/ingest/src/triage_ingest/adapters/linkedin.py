"""LinkedIn: organization social action notifications, pushed to a webhook as
``{type: ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS, notifications: [...]}``.

``COMMENT`` is a member's comment on the organization's post, ``ADMIN_COMMENT`` the
organization's own (outbound), ``SHARE_MENTION`` a post that mentions the organization.
Likes, shares without text, edits and deletions are skipped.
Conversations: comments share their post's thread, ``linkedin:post:<sourcePost>``; a
mention is its own thread, ``linkedin:mention:<generatedActivity>``.
Doc: learn.microsoft.com/linkedin/marketing/community-management/organizations/organization-social-action-notifications
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
from triage_schemas.enums import Channel, Direction, Platform
from triage_schemas.records import Author, SocialMessage

ACTIONS = {"COMMENT": "comment", "ADMIN_COMMENT": "comment", "SHARE_MENTION": "share"}


def parse(payload: dict[str, Any], context: AdapterContext) -> list[Extracted]:
    out: list[Extracted] = []
    for i, note in enumerate(need_list(payload, "", "notifications")):
        here = f"notifications[{i}]"
        action = need_str(note, here, "action")
        if action not in ACTIONS:
            out.append(Skipped(action.lower()))
            continue
        organization = need_str(note, here, "organizationalEntity")
        activity = need(note, here, "decoratedGeneratedActivity", ACTIONS[action])
        where = f"{here}.decoratedGeneratedActivity.{ACTIONS[action]}"
        author = need_str(activity, where, "owner")
        text = optional(activity, "text")
        if not isinstance(text, str):
            text = optional(activity, "message", "text")
        entity = optional_str(activity, "entity") or need_str(note, here, "generatedActivity")
        outbound = action == "ADMIN_COMMENT" or author == organization or context.is_brand(author)
        mention = action == "SHARE_MENTION"
        out.append(
            SocialMessage(
                message_id=message_id(Platform.LINKEDIN, entity),
                conversation_id=(
                    f"linkedin:mention:{entity}" if mention else f"linkedin:post:{need_str(note, here, 'sourcePost')}"
                ),
                platform=Platform.LINKEDIN,
                channel=Channel.MENTION if mention else Channel.PUBLIC_COMMENT,
                direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
                account_id=organization,
                author=Author(id=author),
                text=text if isinstance(text, str) else "",
                created_at=timestamp(note, here, "lastModifiedAt", millis=True),
                received_at=context.received_at,
                reply_to=None if mention else optional_str(note, "sourcePost"),
                permalink=f"https://www.linkedin.com/feed/update/{entity}" if mention else None,
            )
        )
    return out
