"""Text folding: the one rule the router's keywords and the classifier's features and
guardrails compare text by."""

import random
import unicodedata

import pytest

from triage_runtime.text import fold


def reference_fold(text: str) -> str:
    """The rule as written: NFKD of the whole text, combining marks dropped, casefold."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Sécurité", "securite"),
        ("SEGURIDAD BLOQUEADA", "seguridad bloqueada"),
        ("e\u0301te\u0301", "ete"),  # accents typed as combining marks
        ("Straße STRASSE", "strasse strasse"),
        ("ﬁnal ² ＡＢＣ", "final 2 abc"),
        ("Tiếng Việt", "tieng viet"),
        ("ёлка Ἀθῆναι", "елка αθηναι"),
        ("İstanbul", "istanbul"),
        ("love it 😍🔥", "love it 😍🔥"),
        ("", ""),
    ],
)
def test_case_accents_and_compatibility_forms_are_folded(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_folding_a_character_at_a_time_equals_folding_the_text() -> None:
    rng = random.Random(3)
    alphabet = "aAzZ éÉèçÇñÑüßẞİıﬁ²½Ⅻ\u0301\u0327\u0323\u0345😍Straße ÅΩКыệἈᾳ가がｶﷺ\u05b8\u064e\u0e48"
    for _ in range(5_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert fold(text) == reference_fold(text), text


def test_every_character_folds_as_the_rule_says() -> None:
    # Past the table's cap too: characters it no longer stores are folded each time.
    for start in range(0, 0x30000, 0x1000):
        block = "".join(chr(code) for code in range(start, start + 0x1000) if not 0xD800 <= code < 0xE000)
        assert fold(block) == reference_fold(block), hex(start)
