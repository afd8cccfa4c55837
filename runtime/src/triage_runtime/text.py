"""Text folding: one rule for comparing what people type, whatever case, accents or script.

The router matches the policy's keyword triggers on folded text and the classifier folds
text before its model features and its guardrails, so "Sécurité", "SECURITE" and
"securite" compare equal in both. The classifier's trained model depends on this rule:
changing it changes the model's input (bump the classifier's CODE_REVISION and retrain).
"""

import unicodedata


def _fold_char(char: str) -> str:
    # The rule, on one character: compatibility decomposition, every combining mark dropped,
    # then full case folding.
    decomposed = unicodedata.normalize("NFKD", char)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


class _FoldTable(dict[int, int | str | None]):
    """str.translate table of each character's folded form, filled as characters are first seen.

    Capped so a stream of rare characters cannot grow it without bound; the rest are
    folded each time (still correct, only slower)."""

    def __missing__(self, code: int) -> int | str | None:
        folded = _fold_char(chr(code))
        value: int | str | None = code if folded == chr(code) else folded or None
        if len(self) < 65_536:
            self[code] = value
        return value


_FOLDED = _FoldTable()


def fold(text: str) -> str:
    """Lower-case without accents: NFKD (so "ﬁ" is "fi", "²" is "2", full-width letters
    are ASCII), every combining mark dropped (accents of every script, whether typed
    precomposed or not), then ``casefold`` ("ß" is "ss"). Emoji and the letters of other
    scripts stay.

    One table lookup per character gives the same text as normalising the whole text:
    NFKD reorders nothing but combining marks, which are dropped, and case folding maps
    each character on its own."""
    if text.isascii():
        # NFKD changes no ASCII character and casefold() is lower() on them.
        return text.lower()
    return text.translate(_FOLDED)


__all__ = ["fold"]
