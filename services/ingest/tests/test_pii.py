"""Personal data flags: what a care agent must not answer in public."""

import pytest

from triage_ingest.config import IngestSettings
from triage_ingest.pii import PiiDetector, luhn_valid
from triage_schemas.enums import PiiKind

detector = PiiDetector(IngestSettings().order_number_pattern)


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("write me at maya.r+shop@example.co.uk pls", [PiiKind.EMAIL]),
        ("call me on +33 6 12 34 56 78", [PiiKind.PHONE]),
        ("my number is (415) 555-0132", [PiiKind.PHONE]),
        ("card 4111 1111 1111 1111 was charged twice", [PiiKind.CARD_NUMBER]),
        ("order #NW-48213 never came", [PiiKind.ORDER_NUMBER]),
        ("order 558812 still processing", [PiiKind.ORDER_NUMBER]),
        ("ma commande n° 77812 est bloquée", [PiiKind.ORDER_NUMBER]),
        ("mi pedido 99120 no llega, escríbeme a lu@correo.mx", [PiiKind.EMAIL, PiiKind.ORDER_NUMBER]),
    ],
)
def test_personal_data_is_flagged_by_kind(text: str, kinds: list[PiiKind]) -> None:
    assert detector.kinds(text) == kinds


@pytest.mark.parametrize(
    "text",
    [
        "love this colour 😍",
        "bought it on 2025-11-02 for 1,299.00",
        "4111 1111 1111 1112 is not a real card",  # fails the Luhn check
        "version 4.2.1 crashes on android 14",
        "we need 300 units by the 15th",
        "@brand ordered 2 weeks ago",
    ],
)
def test_harmless_numbers_are_not_personal_data(text: str) -> None:
    assert detector.kinds(text) == []


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert luhn_valid("5500005555555559")
    assert not luhn_valid("4111111111111112")


def test_order_pattern_is_configurable() -> None:
    assert PiiDetector(r"\bTCK-\d{3}\b").kinds("ticket TCK-123") == [PiiKind.ORDER_NUMBER]
    assert PiiDetector("").kinds("order #NW-48213") == []
