"""Each platform adapter on its documented payloads: every field of the normalised record."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.ingest.tests.expected_records import EXPECTED
from triage_ingest.adapters import ADAPTERS
from triage_ingest.adapters.base import AdapterContext, PayloadError, Skipped
from triage_schemas.enums import Platform
from triage_schemas.records import SocialMessage

FIXTURES = Path(__file__).parent / "fixtures"
RECEIVED = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def extract(
    name: str, brands: frozenset[str] = frozenset(), account: str | None = None
) -> list[SocialMessage | Skipped]:
    platform = Platform(name.split("_")[0])
    context = AdapterContext(platform=platform, received_at=RECEIVED, account_id=account, brand_account_ids=brands)
    return ADAPTERS[platform](fixture(name), context)


def test_every_fixture_has_expectations_and_a_documented_source() -> None:
    names = {path.stem for path in FIXTURES.glob("*.json")}
    assert names == set(EXPECTED)
    sources = (FIXTURES / "SOURCES.md").read_text()
    assert all(f"`{name}.json`" in sources for name in names)
    assert {name.split("_")[0] for name in names} == {p.value for p in Platform}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_normalises_to_the_expected_records(name: str) -> None:
    got: list[dict[str, Any] | str] = []
    for item in extract(name):
        if isinstance(item, Skipped):
            got.append(item.kind)
            continue
        assert item.received_at == RECEIVED
        assert item.pii == []
        got.append(item.model_dump(mode="json", exclude={"schema_version", "record_type", "received_at", "pii"}))
    assert got == EXPECTED[name]


def test_a_configured_brand_account_makes_its_messages_outbound() -> None:
    [message] = extract("telegram_private_message", brands=frozenset({"5550001234"}))
    assert isinstance(message, SocialMessage) and message.direction == "outbound"
    [comment] = extract("youtube_thread_list")[:1]
    assert isinstance(comment, SocialMessage) and comment.direction == "inbound"
    [mine, _] = extract("youtube_thread_list", brands=frozenset({"UCt0mBu1ldsXyZ12345678901"}))
    assert isinstance(mine, SocialMessage) and mine.direction == "outbound"


@pytest.mark.parametrize(
    ("name", "breaks", "reason"),
    [
        ("messenger_message", lambda p: p["entry"][0]["messaging"][1].pop("sender"),
         "entry[0].messaging[1].sender is missing"),
        ("messenger_message", lambda p: p.update(object="instagram"), "object is 'instagram'"),
        ("whatsapp_text", lambda p: p["entry"][0]["changes"][0]["value"]["messages"][0].pop("from"),
         "entry[0].changes[0].value.messages[0].from is missing"),
        ("x_dm", lambda p: p["direct_message_events"][0]["message_create"].pop("sender_id"),
         "direct_message_events[0].message_create.sender_id is missing"),
        ("x_tweet_mention", lambda p: p.pop("for_user_id"), "for_user_id is missing"),
        ("youtube_comment_thread", lambda p: p["snippet"]["topLevelComment"]["snippet"].update(publishedAt="yesterday"),
         "snippet.topLevelComment.snippet.publishedAt is not an ISO-8601 time"),
        ("tiktok_dm", lambda p: p.update(content="{not json"), "content is not a JSON string"),
        ("linkedin_comment", lambda p: p["notifications"][0].pop("decoratedGeneratedActivity"),
         "notifications[0].decoratedGeneratedActivity is missing"),
        ("telegram_private_message", lambda p: p["message"].pop("chat"), "message.chat is missing"),
        ("facebook_feed_comment", lambda p: p["entry"][0]["changes"][0]["value"].update(created_time="soon"),
         "created_time is not an ISO-8601 time"),
        ("instagram_comment", lambda p: p["entry"][0].pop("time"), "entry[0].time is missing"),
    ],
)  # fmt: skip
def test_a_payload_missing_what_its_platform_documents_says_which_field(name: str, breaks: Any, reason: str) -> None:
    payload = fixture(name)
    breaks(payload)
    platform = Platform(name.split("_")[0])
    with pytest.raises(PayloadError, match=reason.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        ADAPTERS[platform](payload, AdapterContext(platform=platform, received_at=RECEIVED))
