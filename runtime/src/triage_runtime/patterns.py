"""Patterns that anyone can configure, compiled so that matching is linear in the text.

Care leads and operators write regular expressions (personal-data patterns, guardrail
rules); Python's ``re`` backtracks, and one 1.5 KB message once froze ingest for 30
seconds on the default order-number pattern. Every configurable pattern runs on RE2
instead: its time is linear in the text whatever the pattern. RE2 has no lookarounds or
backreferences; a pattern that needs them is refused when it is loaded.
"""

from collections.abc import Iterator
from typing import Any, Protocol, cast

import re2


class Pattern(Protocol):
    """The part of a compiled RE2 pattern this module uses (re2 ships no type hints)."""

    def search(self, text: str) -> Any: ...

    def finditer(self, text: str) -> Iterator[Any]: ...

    def fullmatch(self, text: str) -> Any: ...


class PatternError(ValueError):
    """A pattern RE2 cannot run; the message says why."""


# What Python's re means by \w, \d and \s on text, written for RE2, whose own classes are
# ASCII-only: "josé@…" or "commande\u00a0n° 1234" (French typography puts a no-break
# space there) must match as they did.
_WORD = r"\p{L}\p{N}_"
_DIGIT = r"\p{Nd}"
_SPACE = r"\s\v\x1c-\x1f\x85\p{Z}"
_INSIDE_CLASS = {"w": _WORD, "d": _DIGIT, "s": _SPACE, "D": r"\P{Nd}"}
_OUTSIDE_CLASS = {
    "w": f"[{_WORD}]",
    "d": _DIGIT,
    "s": f"[{_SPACE}]",
    "W": f"[^{_WORD}]",
    "D": r"\P{Nd}",
    "S": f"[^{_SPACE}]",
}


def unicode_classes(pattern: str) -> str:
    r"""``pattern`` with \w, \d, \s (and their negations) meaning what they mean in Python.

    ``\b`` stays RE2's: a boundary between an ASCII letter, digit or ``_`` and anything
    else, so a letter such as "é" counts as a non-word character next to it.
    """
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            table = _INSIDE_CLASS if in_class else _OUTSIDE_CLASS
            if escaped in table:
                out.append(table[escaped])
            elif in_class and escaped in "WS":
                raise PatternError(f"\\{escaped} inside [...] cannot be written for RE2; use [^...] instead")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class and pattern.startswith("[:", i):
            end = pattern.find(":]", i + 2)
            if end != -1:
                out.append(pattern[i : end + 2])
                i = end + 2
                continue
        out.append(char)
        if char == "[" and not in_class:
            in_class = True
            # A "]" first in a class (after an optional "^") is a literal.
            start = i + 1
            if pattern.startswith("^", start):
                out.append("^")
                start += 1
            if pattern.startswith("]", start):
                out.append("]")
                start += 1
            i = start
            continue
        if char == "]" and in_class:
            in_class = False
        i += 1
    return "".join(out)


def compile_pattern(pattern: str, *, ignore_case: bool = False) -> Pattern:
    """``pattern`` compiled for RE2, or PatternError naming what RE2 refused."""
    options = re2.Options()
    options.case_sensitive = not ignore_case
    # The error goes into PatternError; RE2 would also print it on stderr.
    options.log_errors = False
    try:
        return cast(Pattern, re2.compile(unicode_classes(pattern), options))
    except re2.error as error:
        reason = error.args[0].decode("utf-8", "replace") if error.args and isinstance(error.args[0], bytes) else error
        raise PatternError(
            f"RE2 cannot compile it ({reason}); patterns run in linear time, "
            "so lookarounds, backreferences and possessive or atomic groups are not available"
        ) from None
