"""Which kinds of personal data a message's text carries, so a public thread can move to
a direct message. Only the kinds are kept; the text is never logged."""

import re
from collections.abc import Iterable

from triage_schemas.enums import PiiKind

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}", re.IGNORECASE)
# Digit runs with the separators people type; long enough to be a phone or a card.
NUMBER_RUN = re.compile(r"(?<![\w.,])\+?\d[\d ().-]{7,}\d(?![\w])")
CARD_LENGTHS = range(13, 20)
PHONE_LENGTHS = range(9, 16)
# A date or a money amount written with separators is neither a phone nor a card.
DATE_OR_AMOUNT = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}$|^\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{2})?$")


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


class PiiDetector:
    def __init__(self, order_number_pattern: str) -> None:
        self.order_number = re.compile(order_number_pattern, re.IGNORECASE) if order_number_pattern else None

    def kinds(self, text: str) -> list[PiiKind]:
        found: set[PiiKind] = set()
        if EMAIL.search(text):
            found.add(PiiKind.EMAIL)
        for match in NUMBER_RUN.finditer(text):
            found.update(self._number_kinds(match.group()))
        if self.order_number is not None and self.order_number.search(text):
            found.add(PiiKind.ORDER_NUMBER)
        return sorted(found, key=list(PiiKind).index)

    @staticmethod
    def _number_kinds(run: str) -> Iterable[PiiKind]:
        if DATE_OR_AMOUNT.match(run.strip()):
            return ()
        digits = re.sub(r"\D", "", run)
        if len(digits) in CARD_LENGTHS and luhn_valid(digits) and not run.startswith("+"):
            return (PiiKind.CARD_NUMBER,)
        if len(digits) in PHONE_LENGTHS and (run.startswith("+") or re.search(r"[ ().-]", run) or len(digits) >= 10):
            return (PiiKind.PHONE,)
        return ()
