"""JSON lines from strangers, for every offline command.

Each command (``normalize``, ``classify``, ``route``, ``replay``) reads JSON lines that
somebody else wrote and must answer every line: with output records, or with exactly one
``line N: reason`` on stderr, and then go on with the next line. This module is that
contract, written once:

- ``read_json_lines`` splits on ``"\\n"`` only (``str.splitlines`` would also cut at
  U+2028 and other separators that are legal inside a JSON string), decodes each line as
  UTF-8 on its own (one bad byte costs one line, not the file), skips blank lines and
  parses with ``safejson.loads`` (depth, size, NaN, lone surrogates);
- ``validation_summary`` turns a pydantic error into a short reason;
- ``serialise`` writes records as JSON lines or returns the line error, so one record
  that cannot be written never takes the good lines around it down;
- ``LineReport`` writes outputs and errors and counts them, and ``exit_status`` closes
  a run with how many lines were rejected.
"""

import io
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, TextIO

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError

from triage_runtime import safejson
from triage_schemas.records import RECORD_MODELS

MAX_LINE_BYTES = safejson.DEFAULT_MAX_BYTES
"""A line longer than Kafka's largest record cannot be a record; it is skipped unread."""

MAX_REASON_CHARS = 300
_JSON_WHITESPACE = " \t\r\n"
# Only a number with a three-digit exponent or hundreds of digits can overflow a float.
_HUGE_NUMBER = re.compile(r"[eE][+-]?\d{3}|\d{300}")


def one_line(text: str, limit: int = MAX_REASON_CHARS) -> str:
    """``text`` as one printable terminal line: a reason may quote a hostile key or value,
    and a newline or an escape sequence in it would forge or hide other lines."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode("ascii") for c in text
    )


@dataclass(frozen=True, slots=True)
class Line:
    """One parsed line: its 1-based number, its JSON value and its text (without ``"\\n"``)."""

    number: int
    value: Any
    text: str


@dataclass(frozen=True, slots=True)
class LineError:
    """Why line ``number`` produced nothing."""

    number: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.number}: {one_line(self.reason)}"


Source = IO[bytes] | IO[str] | Iterable[bytes] | Iterable[str]
"""A binary or text stream, or the lines themselves (one item a line)."""


def _stream_lines(readline: Callable[[int], bytes | str]) -> Iterator[tuple[int, bytes | str | None]]:
    number = 0
    while True:
        chunk = readline(MAX_LINE_BYTES + 1)
        if not chunk:
            return
        number += 1
        newline: bytes | str = b"\n" if isinstance(chunk, bytes) else "\n"
        if chunk.endswith(newline):  # type: ignore[arg-type]  # bytes with bytes, str with str
            yield number, chunk[:-1]
        elif len(chunk) <= MAX_LINE_BYTES:
            yield number, chunk  # the last line, without a final newline
        else:
            # over the limit: drain the rest of the line without keeping it
            while chunk and not chunk.endswith(newline):  # type: ignore[arg-type]
                chunk = readline(MAX_LINE_BYTES)
            yield number, None


def _raw_lines(source: Source) -> Iterator[tuple[int, bytes | str | None]]:
    """Numbered lines without their ``"\\n"``; None for a line over ``MAX_LINE_BYTES``.

    A text stream with a binary buffer (``sys.stdin``, an opened file) is read as bytes,
    so decoding is ours and per line, not the locale's and all-or-nothing."""
    buffer = getattr(source, "buffer", None)
    if isinstance(source, io.TextIOBase) and buffer is not None:
        source = buffer
    readline = getattr(source, "readline", None)
    if readline is not None:
        yield from _stream_lines(readline)
        return
    number = 0
    for item in source:
        newline: bytes | str = b"\n" if isinstance(item, bytes) else "\n"
        if item.endswith(newline):  # type: ignore[arg-type]
            item = item[:-1]
        # an item holding a "\n" is more than one line
        for part in item.split(newline):  # type: ignore[arg-type]
            number += 1
            yield number, part if len(part) <= MAX_LINE_BYTES else None


def read_json_lines(source: Source, *, max_depth: int = safejson.DEFAULT_MAX_DEPTH) -> Iterator[Line | LineError]:
    """Every non-blank line of ``source``, parsed, or the reason it cannot be used."""
    for number, raw in _raw_lines(source):
        if raw is None:
            yield LineError(number, f"over the {MAX_LINE_BYTES:,}-byte line limit")
            continue
        if isinstance(raw, bytes):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                yield LineError(number, f"not valid UTF-8 (byte {error.start + 1}: {error.reason})")
                continue
        else:
            text = raw
        # JSON's own whitespace only: str.strip would also eat U+2028 and call the line blank
        if not text.strip(_JSON_WHITESPACE):
            continue
        text = text.rstrip("\r")
        try:
            value = safejson.loads(text, max_depth=max_depth, max_bytes=MAX_LINE_BYTES)
        except safejson.BadJson as error:
            yield LineError(number, error.reason)
            continue
        if _HUGE_NUMBER.search(text) and _has_infinity(value):
            yield LineError(number, "not usable JSON: a number too large for a float (it would be written as null)")
            continue
        yield Line(number, value, text)


def _has_infinity(value: Any) -> bool:
    """Whether a parsed document holds a float that overflowed (``1e999`` parses as inf)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _location(loc: Sequence[int | str]) -> str:
    return ".".join(one_line(str(part), 40) for part in loc) or "(record)"


def validation_summary(error: ValidationError, limit: int = 3) -> str:
    """``where: what`` for the first ``limit`` problems, without quoting the input."""
    problems = error.errors(include_url=False, include_input=False, include_context=False)
    summary = "; ".join(f"{_location(problem['loc'])}: {problem['msg']}" for problem in problems[:limit])
    if len(problems) > limit:
        summary += f" (and {len(problems) - limit} more)"
    return summary


def record_type_error(value: Any, accepted: Iterable[str] = RECORD_MODELS) -> str | None:
    """Why ``value`` is not a record of one of the ``accepted`` types, or None when it is
    one (by its ``record_type``; its fields are the caller's business)."""
    if not isinstance(value, dict):
        return f"a JSON {type(value).__name__}, not a record (a JSON object with a record_type)"
    record_type = value.get("record_type")
    known = list(accepted)
    if record_type not in known:
        shown = one_line(repr(record_type), 60)
        return f"record_type {shown} is not one of {', '.join(known)}"
    return None


def serialise(number: int, records: Iterable[BaseModel]) -> str | LineError:
    """The records as JSON lines, or one error for line ``number`` when any cannot be
    written (a string the validator let through that UTF-8 cannot carry, a number JSON
    cannot): all of the line's records or none, so every line answers once."""
    written: list[str] = []
    for record in records:
        try:
            text = record.model_dump_json()
            text.encode("utf-8")
        except (PydanticSerializationError, ValueError, OverflowError) as error:
            kind = getattr(record, "record_type", type(record).__name__)
            return LineError(number, f"cannot write the {kind} record: {str(error).splitlines()[0]}")
        written.append(text + "\n")
    return "".join(written)


class LineReport:
    """Outputs to ``out``, one ``line N: reason`` per rejected line to ``err``, and counts."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out = out
        self.err = err
        self.rejected = 0
        self.written = 0

    def reject(self, error: LineError) -> None:
        self.rejected += 1
        self.err.write(f"{error}\n")

    def note(self, number: int, text: str) -> None:
        """Something a person should know about a line that was not rejected."""
        self.err.write(f"{LineError(number, text)}\n")

    def write(self, number: int, records: Iterable[BaseModel]) -> bool:
        """Write the line's records, or report it; False when it was rejected."""
        text = serialise(number, records)
        if isinstance(text, LineError):
            self.reject(text)
            return False
        self.out.write(text)
        self.written += text.count("\n")
        return True

    def pass_through(self, line: Line) -> None:
        self.out.write(line.text + "\n")
        self.written += 1

    def flush(self) -> None:
        self.out.flush()


def exit_status(command: str, rejected: int, err: TextIO) -> int:
    """Say how many lines were rejected, after their ``line N:`` messages; the exit
    status: 1 when any was, so a script cannot mistake a partial run for a whole one."""
    if not rejected:
        return 0
    plural = "line was" if rejected == 1 else "lines were"
    err.write(f"{command}: {rejected} {plural} rejected (see the line N: messages above)\n")
    return 1
