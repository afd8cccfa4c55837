"""Personal data flags: what a care agent must not answer in public."""

import random
import re

import pytest
from pydantic import ValidationError

from triage_ingest.config import IngestSettings
from triage_ingest.pii import PiiDetector, luhn_valid, number_runs
from triage_runtime.patterns import PatternError
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
    # A care lead's \w, \s and \d read accented letters and no-break spaces as Python's re did.
    assert PiiDetector(r"ticket\s\w+-\d{3}").kinds("ticket\u00a0café-123") == [PiiKind.ORDER_NUMBER]


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        # Accented local parts, no-break spaces (French typography) and other scripts'
        # digits: RE2's own \w, \s and \d are ASCII-only, the detector's are not.
        ("écrivez à josé.garcía@correo.es", [PiiKind.EMAIL]),
        ("ma commande\u00a0n°\u00a077812 est bloquée", [PiiKind.ORDER_NUMBER]),
        ("ORDER NUMBER: 558812", [PiiKind.ORDER_NUMBER]),
        ("mi PEDIDO Nº 99120", [PiiKind.ORDER_NUMBER]),
        ("tel 06 12 34 56 78/07 98 76 54 32", [PiiKind.PHONE]),
        ("ref AB0612345678 is a parcel code", []),
    ],
)
def test_unicode_text_is_read_as_before(text: str, kinds: list[PiiKind]) -> None:
    assert detector.kinds(text) == kinds


def test_number_runs_are_found_exactly_as_the_old_lookaround_pattern_found_them() -> None:
    """The old pattern needed lookarounds RE2 lacks; its replacement must find the same runs."""
    old = re.compile(r"(?<![\w.,])\+?\d[\d ().-]{7,}\d(?![\w])")
    rng = random.Random(13)
    alphabet = "0123456789" * 4 + "  ().-+,.a_é²٣\u00a0"
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert list(number_runs(text)) == [m.group() for m in old.finditer(text)], text


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        (r"order(?=\s*\d)", "invalid perl operator"),  # lookahead
        (r"(#\d+)\1", "invalid escape sequence"),  # backreference
        (r"[\W\d]+", r"\\W inside \[...\]"),
    ],
)
def test_a_pattern_re2_cannot_run_is_refused_at_start_naming_the_setting(
    pattern: str, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIAGE_INGEST_ORDER_NUMBER_PATTERN", pattern)
    with pytest.raises(ValidationError, match=f"TRIAGE_INGEST_ORDER_NUMBER_PATTERN: .*{problem}"):
        IngestSettings()
    with pytest.raises(PatternError):
        PiiDetector(pattern)
