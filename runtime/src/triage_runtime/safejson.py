"""JSON from strangers, parsed with limits checked before the parser runs.

Every stage and every offline command reads JSON that somebody else wrote. The
standard parser recurses once per nesting level (a body nested 100,000 levels deep
raises ``RecursionError``), accepts ``NaN`` and ``Infinity`` (which no JSON consumer
downstream can read back), and turns a ``\\ud800`` escape into a lone surrogate that
cannot be written out again as UTF-8. ``loads`` refuses all of these with a reason a
person can act on, so the caller turns them into one dead letter or one ``line N``
error instead of a crash.
"""

import json
import math
import re
from typing import Any

DEFAULT_MAX_DEPTH = 64
"""Platform payloads nest about ten levels; 64 leaves room without risking recursion."""

DEFAULT_MAX_BYTES = 1_048_576
"""Kafka's default largest record; a larger document cannot have come through a topic."""

# Strings are matched whole so brackets inside them do not count toward the depth.
# The two alternatives start with different characters, so matching is linear.
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
# A \uD800-\uDFFF escape: only then can the parsed text hold a lone surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class BadJson(ValueError):
    """The document cannot be used; ``reason`` says why, without quoting its content.

    A reason reads after "record is" or "line N:" (``not JSON: ...``, ``nested more
    than 64 levels deep``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def nesting_depth(text: str, limit: int) -> int:
    """The deepest bracket nesting in ``text``, counted up to ``limit + 1``."""
    if text.count("[") + text.count("{") <= limit:
        return 0  # cannot be deeper than the number of openers: skip the scan
    depth = deepest = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif token in "]}":
            depth -= 1
    return deepest


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e999: json reads it as infinity, which no JSON writer can carry back
        raise BadJson(f"not usable JSON: the number {text[:24]} is too large for a float")
    return value


def _reject_constant(name: str) -> Any:
    raise BadJson(f"not usable JSON: {name} is not a number JSON can carry")


def lone_surrogate(value: Any) -> str | None:
    """The first unpaired surrogate anywhere in a parsed document's strings, if any."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found = _SURROGATE.search(item)
            if found is not None:
                return found.group()
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def loads(
    document: bytes | str,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Any:
    """Parse one JSON document, or raise ``BadJson`` saying what is wrong with it."""
    size = len(document)
    if size > max_bytes:
        raise BadJson(f"{size:,} bytes, over the {max_bytes:,}-byte limit")
    if isinstance(document, bytes):
        try:
            text = document.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BadJson(f"not valid UTF-8 (byte {error.start}: {error.reason})") from None
    else:
        text = document
        found = _SURROGATE.search(text)
        if found is not None:
            raise BadJson(
                f"not writable as UTF-8: an unpaired surrogate U+{ord(found.group()):04X} at position {found.start()}"
            )
    depth = nesting_depth(text, max_depth)
    if depth > max_depth:
        raise BadJson(f"nested more than {max_depth} levels deep")
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite)
    except BadJson:
        raise
    except json.JSONDecodeError as error:
        raise BadJson(f"not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except (ValueError, RecursionError) as error:
        # e.g. an integer of more than 4,300 digits
        raise BadJson(f"not usable JSON: {str(error)[:120]}") from None
    if _SURROGATE_ESCAPE.search(text):
        surrogate = lone_surrogate(value)
        if surrogate is not None:
            raise BadJson(f"not writable as UTF-8: an unpaired surrogate escape (\\u{ord(surrogate):04x})")
    return value
