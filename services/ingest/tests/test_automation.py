"""Humans versus automation: the brand's replies that a chatbot or an auto-acknowledgement
sent are recorded as ``agent_replied`` events marked ``automation``, which stop no SLA
clock; a person's reply is left unmarked (human). From settings to the published event."""

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from triage_ingest.app import build_normalizer
from triage_ingest.config import IngestSettings
from triage_ingest.normalize import Normalized
from triage_schemas.enums import ActorKind, ConversationEventType, Platform

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 11, 22, 12, 5, tzinfo=UTC).timestamp()
BOT_APP = "731500000000001"
PAGE_INBOX = "263902037430900"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def normalize(platform: str, payload: dict[str, Any], **settings: Any) -> Normalized:
    envelope = {"platform": platform, "received_at": "2026-11-22T12:00:00Z", "payload": payload}
    return build_normalizer(IngestSettings(**settings)).record(json.dumps(envelope).encode(), now=NOW)


def kinds(result: Normalized) -> list[ActorKind | None]:
    assert all(event.type is ConversationEventType.AGENT_REPLIED for event in result.events)
    return [event.actor_kind for event in result.events]


def test_a_chatbot_echo_and_a_tagged_echo_are_automation_and_an_inbox_reply_is_human() -> None:
    result = normalize("messenger", fixture("messenger_echo_bot"), automation_app_ids={"messenger": [BOT_APP]})
    assert result.messages == []
    # auto-acknowledgement from the bot's app; Send API metadata "automation:order-status"; typed in the Page inbox
    assert kinds(result) == [ActorKind.AUTOMATION, ActorKind.AUTOMATION, None]


def test_unconfigured_meta_echoes_are_human_whatever_app_sent_them() -> None:
    result = normalize("messenger", fixture("messenger_echo_bot"), automation_metadata_marker="")
    assert kinds(result) == [None, None, None]


def test_the_metadata_marker_is_configurable() -> None:
    tagged = normalize("messenger", fixture("messenger_echo"), automation_metadata_marker="AGENT:")
    assert kinds(tagged) == [ActorKind.AUTOMATION]  # its metadata is "agent:42"
    assert kinds(normalize("messenger", fixture("messenger_echo"))) == [None]


def test_automation_app_ids_apply_to_their_own_platform() -> None:
    echo = copy.deepcopy(fixture("instagram_dm_echo"))
    echo["entry"][0]["messaging"][0]["message"]["app_id"] = int(BOT_APP)
    assert kinds(normalize("instagram", echo, automation_app_ids={"instagram": [BOT_APP]})) == [ActorKind.AUTOMATION]
    assert kinds(normalize("instagram", echo, automation_app_ids={"messenger": [BOT_APP]})) == [None]


def test_a_customer_message_is_never_automation() -> None:
    message = copy.deepcopy(fixture("messenger_message"))
    message["entry"][0]["messaging"][0]["message"]["metadata"] = "automation"
    result = normalize("messenger", message)
    assert result.events == []
    assert [m.actor_kind for m in result.messages] == [None, None]


def test_an_x_reply_from_a_configured_tool_is_automation_matched_by_name_in_any_case() -> None:
    reply = fixture("x_brand_reply_tool")  # source: <a href="https://sproutsocial.com" ...>Sprout Social</a>
    assert kinds(normalize("x", reply, automation_sources=["sprout social"])) == [ActorKind.AUTOMATION]
    assert kinds(normalize("x", reply, automation_sources=["Hootsuite Inc."])) == [None]
    assert kinds(normalize("x", reply)) == [None]


def test_an_x_post_whose_source_is_plain_text_matches_it_whole() -> None:
    reply = copy.deepcopy(fixture("x_brand_reply_tool"))
    reply["tweet_create_events"][0]["source"] = "web"
    assert kinds(normalize("x", reply, automation_sources=["web"])) == [ActorKind.AUTOMATION]


@pytest.mark.parametrize("configured", ["3033300", "Northwind Assistant"])
def test_an_x_dm_sent_by_a_configured_app_is_automation_by_id_or_name(configured: str) -> None:
    assert kinds(normalize("x", fixture("x_dm_bot"), automation_sources=[configured])) == [ActorKind.AUTOMATION]


def test_x_names_the_app_of_a_customer_dm_too_but_only_the_brands_are_marked() -> None:
    # The customer's DM came from Twitter Web Client (268278); the brand's answer names no app.
    result = normalize("x", fixture("x_dm"), automation_sources=["268278", "Twitter Web Client"])
    assert [m.actor_kind for m in result.messages] == [None]
    assert kinds(result) == [None]


@pytest.mark.parametrize("name", ["telegram_bot_reply", "telegram_business_bot_reply"])
def test_a_telegram_bot_reply_is_automation_without_configuration(name: str) -> None:
    result = normalize("telegram", fixture(name))
    assert result.messages == []
    assert kinds(result) == [ActorKind.AUTOMATION]


def test_a_telegram_business_accounts_own_message_is_human() -> None:
    update = copy.deepcopy(fixture("telegram_business_bot_reply"))
    del update["business_message"]["sender_business_bot"]
    result = normalize("telegram", update, brand_account_ids={"telegram": ["4440009999"]})
    assert kinds(result) == [None]


@pytest.mark.parametrize(("inbox", "name"), [(PAGE_INBOX, "Page Inbox"), ("1217981644879628", "Instagram Inbox")])
def test_an_inbox_where_people_type_cannot_be_configured_as_automation(inbox: str, name: str) -> None:
    with pytest.raises(ValidationError, match=f"TRIAGE_INGEST_AUTOMATION_APP_IDS: {inbox} .*{name}"):
        IngestSettings(automation_app_ids={"messenger": [BOT_APP, inbox]})


def test_app_ids_on_a_platform_whose_payloads_name_no_app_are_refused() -> None:
    with pytest.raises(ValidationError, match="whatsapp, x payloads name no sending app"):
        IngestSettings(automation_app_ids={"x": ["3033300"], "whatsapp": ["1"]})


def test_settings_from_the_environment_take_app_ids_as_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_INGEST_AUTOMATION_APP_IDS", '{"instagram": [731500000000001]}')
    monkeypatch.setenv("TRIAGE_INGEST_AUTOMATION_SOURCES", '["Sprout Social"]')
    monkeypatch.setenv("TRIAGE_INGEST_AUTOMATION_METADATA_MARKER", "  ")
    settings = IngestSettings()
    assert settings.automation_app_ids == {Platform.INSTAGRAM: [BOT_APP]}
    assert settings.automation_sources == ["Sprout Social"]
    assert settings.automation_metadata_marker is None
