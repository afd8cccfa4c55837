"""A record serialised with the schemas survives a trip through the real broker."""

from datetime import UTC, datetime

import pytest

from tests.harness import KafkaHarness
from triage_schemas import Author, Channel, Direction, Platform, SocialMessage, parse_record

pytestmark = pytest.mark.kafka


async def test_message_round_trips_through_real_broker_keyed_by_conversation(kafka: KafkaHarness) -> None:
    message = SocialMessage(
        message_id="x:1850000000000000001",
        conversation_id="x:dm:brand-42:user-7",
        platform=Platform.X,
        channel=Channel.DIRECT_MESSAGE,
        direction=Direction.INBOUND,
        author=Author(id="user-7", handle="@kai", followers=310),
        text="mi cuenta fue hackeada 😱 ayuda",
        created_at=datetime(2026, 11, 22, 8, 30, tzinfo=UTC),
        received_at=datetime(2026, 11, 22, 8, 30, 2, tzinfo=UTC),
    )
    await kafka.produce(kafka.topics.messages, message, key=message.conversation_id)

    [received] = await kafka.consume(kafka.topics.messages, 1)

    assert received.key == b"x:dm:brand-42:user-7"
    assert parse_record(received.value) == message
