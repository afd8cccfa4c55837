"""Which kinds of personal data a message's text carries, so a public thread can move to
a direct message. Only the kinds are kept; the text is never logged.

Every pattern here, the configured order-number pattern included, runs on RE2: its
matching time is linear in the text's length whatever the pattern, so no message can
stall the service (Python's ``re`` backtracks, and one 1.5 KB message once froze ingest
for 30 seconds). RE2 has no lookarounds or backreferences; a pattern that needs them is
refused when the settings load.
"""

from collections.abc import Iterable, Iterator

from triage_ingest.pii_ids import identifier_kinds
from triage_runtime.patterns import compile_pattern
from triage_schemas.enums import PiiKind

EMAIL = compile_pattern(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}", ignore_case=True)
# Stretches of digits and the separators people type between them; number_runs() picks
# the phone- or card-like number out of each (long enough to be one, not inside a word).
_SEPARATORS = " ().-"
_DIGIT_BLOCK = compile_pattern(r"[\d ().-]{9,}")
_SEPARATED_DIGIT = compile_pattern(r"[ ()-]\d")
CARD_LENGTHS = range(13, 20)
PHONE_LENGTHS = range(9, 16)
# A date or a money amount written with separators is neither a phone nor a card.
DATE_OR_AMOUNT = compile_pattern(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{2})?")


def _is_word(char: str) -> bool:
    # Python's re: a word character is alphanumeric or "_".
    return char.isalnum() or char == "_"


def number_runs(text: str) -> Iterator[str]:
    r"""Every phone- or card-like run in ``text``: what ``(?<![\w.,])\+?\d[\d ().-]{7,}\d(?!\w)``
    finds with Python's re, without its lookarounds and in linear time."""
    for block in _DIGIT_BLOCK.finditer(text):
        start, end = block.span()
        run = block.group()
        # The run's last digit must not continue into a word: when a word character
        # follows the block, the digits just before it belong to that word.
        last = len(run)
        if end < len(text) and _is_word(text[end]):
            while last and run[last - 1].isdecimal():
                last -= 1
        while last and run[last - 1] in _SEPARATORS:
            last -= 1
        if not last:
            continue
        # The run starts at a digit (or a "+" before one) not glued to a word, a decimal
        # point or a thousands comma; the leftmost such start gives the longest run.
        before = text[start - 1] if start else ""
        if run[0].isdecimal() and before == "+" and (start < 2 or not _glued(text[start - 2])):
            first_digit, begin = start, start - 1
        elif run[0].isdecimal() and not _glued(before):
            first_digit = begin = start
        else:
            inner = _SEPARATED_DIGIT.search(run)
            if inner is None:
                continue
            first_digit = begin = start + inner.start() + 1
        if start + last - 1 - first_digit >= 8:
            yield text[begin : start + last]


def _glued(char: str) -> bool:
    return char != "" and (_is_word(char) or char in ".,")


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
        """Raises PatternError when RE2 cannot compile ``order_number_pattern``."""
        self.order_number = compile_pattern(order_number_pattern, ignore_case=True) if order_number_pattern else None

    def kinds(self, text: str) -> list[PiiKind]:
        found: set[PiiKind] = set()
        if EMAIL.search(text):
            found.add(PiiKind.EMAIL)
        for run in number_runs(text):
            found.update(self._number_kinds(run))
        if self.order_number is not None and self.order_number.search(text):
            found.add(PiiKind.ORDER_NUMBER)
        identifiers = set(identifier_kinds(text))
        if identifiers & {PiiKind.IBAN, PiiKind.NATIONAL_ID}:
            found.discard(PiiKind.PHONE)  # the digits were an account or an ID, not a phone
        found |= identifiers
        return sorted(found, key=list(PiiKind).index)

    @staticmethod
    def _number_kinds(run: str) -> Iterable[PiiKind]:
        if DATE_OR_AMOUNT.fullmatch(run.strip()):
            return ()
        digits = "".join(char for char in run if char.isdecimal())
        if len(digits) in CARD_LENGTHS and luhn_valid(digits) and not run.startswith("+"):
            return (PiiKind.CARD_NUMBER,)
        if len(digits) in PHONE_LENGTHS and (
            run.startswith("+") or any(char in _SEPARATORS for char in run) or len(digits) >= 10
        ):
            return (PiiKind.PHONE,)
        return ()
