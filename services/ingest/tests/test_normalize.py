"""The pipeline from raw bytes: dead-letter reasons a person can act on, fan-out,
duplicates, brand replies as conversation events, personal data flags."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from triage_ingest.app import build_normalizer
from triage_ingest.config import IngestSettings
from triage_ingest.normalize import Normalizer
from triage_runtime.delivery import Rejected
from triage_schemas.enums import ConversationEventType, PiiKind

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 11, 22, 12, 5, tzinfo=UTC).timestamp()  # five minutes after the envelopes arrived


def normalizer(**settings: Any) -> Normalizer:
    return build_normalizer(IngestSettings(**settings))


def envelope(platform: str, payload: Any, **extra: Any) -> bytes:
    body = {
        "record_type": "raw_envelope",
        "schema_version": 1,
        "platform": platform,
        "received_at": "2026-11-22T12:00:00Z",
        "payload": payload,
        **extra,
    }
    return json.dumps(body).encode()


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def test_a_delivery_fans_out_and_flags_personal_data() -> None:
    result = normalizer().record(envelope("messenger", fixture("messenger_message")), now=NOW)
    assert [m.message_id for m in result.messages] == [
        "messenger:m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P",
        "messenger:m_2nd_photo_Kj8mJEM",
    ]
    assert result.messages[0].pii == [PiiKind.EMAIL, PiiKind.ORDER_NUMBER]
    assert result.messages[0].received_at == datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_an_echo_becomes_an_agent_replied_event_not_a_message() -> None:
    result = normalizer().record(envelope("messenger", fixture("messenger_echo")), now=NOW)
    assert result.messages == []
    [event] = result.events
    assert event.type is ConversationEventType.AGENT_REPLIED
    assert event.conversation_id == "messenger:dm:104729368112345:6120034519877201"
    assert event.actor == "104729368112345"
    assert event.message_id == "messenger:m_echo_1457764197618_41d102a3e1ae206a38"
    assert event.at == datetime(2025, 11, 22, 10, 5, tzinfo=UTC)


def test_brand_accounts_from_settings_and_from_the_envelope_are_replies() -> None:
    configured = normalizer(brand_account_ids={"telegram": ["5550001234"]})
    assert configured.record(envelope("telegram", fixture("telegram_private_message")), now=NOW).events
    by_envelope = normalizer().record(
        envelope("telegram", fixture("telegram_private_message"), account_id="5550001234"), now=NOW
    )
    assert by_envelope.events and not by_envelope.messages


def test_a_retried_delivery_is_processed_once() -> None:
    n = normalizer()
    first = n.record(envelope("whatsapp", fixture("whatsapp_text")), now=NOW)
    again = n.record(envelope("whatsapp", fixture("whatsapp_text")), now=NOW + 60)
    assert len(first.messages) == 2
    assert again.messages == [] and again.duplicates == 2


def test_non_message_events_are_counted_and_skipped_not_dead_lettered() -> None:
    result = normalizer().record(envelope("whatsapp", fixture("whatsapp_status")), now=NOW)
    assert result.messages == [] and result.events == []
    assert result.skipped == {"status": 2}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"record_type": "raw_envelope", "platform": ', "record is not JSON: Expecting value at line 1 column 45"),
        (b"\xff\xfe not utf-8", "record is not valid UTF-8 (byte 0: invalid start byte)"),
        (b"[1, 2]", "record is a JSON list, not a raw_envelope object"),
        (envelope("myspace", {}), "unknown platform 'myspace'; known platforms: instagram, facebook"),
        (envelope("x", {"for_user_id": "1"}, received_at="yesterday"), "not a valid raw_envelope: received_at"),
        (json.dumps({"record_type": "message"}).encode(), "record_type is 'message'; social.raw takes raw_envelope"),
        (envelope("messenger", {"object": "page", "entry": [{"id": "1", "messaging": [{"message": {"mid": "m"}}]}]}),
         "messenger payload: entry[0].messaging[0].sender is missing"),
        (envelope("telegram", {"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1, "type": "private"},
                                                          "date": 1763812800, "text": "hi \x1b[31mred"}}),
         "message 0 text has U+001B (a control character) at position 3"),
    ],
)  # fmt: skip
def test_bad_input_is_rejected_with_a_reason_a_person_can_act_on(raw: bytes, reason: str) -> None:
    with pytest.raises(Rejected) as rejected:
        normalizer().record(raw, now=NOW)
    assert rejected.value.reason.startswith(reason), rejected.value.reason


def test_oversize_records_and_megabyte_texts_are_rejected() -> None:
    huge = envelope("telegram", {"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1, "type": "private"},
                                                             "date": 1763812800, "text": "a" * 600_000}})  # fmt: skip
    with pytest.raises(Rejected, match="over the 524,288-byte limit"):
        normalizer().record(huge, now=NOW)
    with pytest.raises(Rejected, match="600,000 characters of text, over the 20,000-character limit"):
        normalizer(max_record_bytes=2_000_000).record(huge, now=NOW)
