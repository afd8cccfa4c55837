"""Text folding shared by the model's features and the guardrails."""

import unicodedata


def _accent_table() -> dict[int, int | None]:
    # Latin letters with diacritics map to their base letter and stray combining
    # marks disappear; a translate table does in C what NFKD plus a filter does in Python.
    table: dict[int, int | None] = {}
    for code in range(0xC0, 0x250):
        base = "".join(c for c in unicodedata.normalize("NFKD", chr(code)) if not unicodedata.combining(c))
        if len(base) == 1 and base != chr(code):
            table[code] = ord(base)
    for code in range(0x300, 0x370):
        table[code] = None
    return table


_ACCENTS = _accent_table()


def strip_accents(text: str) -> str:
    """People drop accents on phones; compare text without them (emoji and other scripts stay)."""
    if text.isascii():
        return text
    return text.translate(_ACCENTS)


def fold(text: str) -> str:
    """Lowercase, without accents."""
    return strip_accents(text.lower())
