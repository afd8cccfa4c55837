"""The four offline commands answer every hostile line and never crash.

Property, for every generated input: the command returns an exit status (no exception,
no traceback); every output line is JSON that validates against its record's JSON
Schema in ``schemas/json/`` (or is an input line passed through unchanged); every input
line gets at most one ``line N:`` message on stderr; and where a command answers each
line once (``classify``, ``route``) each line gets exactly one of output or error, in
order. The commands run in-process through their ``main`` for speed.
"""

import io
import json
import re
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import PROFILE
from tests.fuzz.strategies import (
    ROOT,
    classified_records,
    events,
    ingest_documents,
    lines_of,
    messages,
    other_records,
    routed_records,
    shorthand_lines,
    validators,
)
from triage_classifier.cli import main as classifier_main
from triage_ingest.cli import main as ingest_main
from triage_router.cli import main as router_main
from triage_router.policy import DEFAULT_POLICY
from triage_schemas.enums import Platform
from triage_sla_monitor.cli import main as sla_main

FUZZ = settings(settings.get_profile(PROFILE))
LINE_MESSAGE = re.compile(r"^line (\d+): (.+)$")
REJECTED_COUNT = re.compile(r"^triage-[a-z-]+ [a-z]+: \d+ lines? (was|were) rejected")


@dataclass
class Run:
    code: int
    out: str
    err: str
    lines: list[bytes]

    def nonblank(self) -> list[int]:
        return [n for n, line in enumerate(self.lines, start=1) if line.strip(b" \t\r\n")]

    def messages(self) -> dict[int, list[str]]:
        """``line N:`` messages by line number; anything else on stderr must be expected."""
        found: dict[int, list[str]] = {}
        for text in self.err.splitlines():
            match = LINE_MESSAGE.match(text)
            if match:
                found.setdefault(int(match.group(1)), []).append(match.group(2))
            else:
                assert REJECTED_COUNT.match(text) or text.startswith('{"summary"'), f"unexpected stderr: {text!r}"
        return found


def run(main: Callable[[list[str] | None], int], argv: list[str], lines: list[bytes]) -> Run:
    """``main(argv)`` with ``lines`` on stdin, as the installed command would run it."""
    stdin = io.TextIOWrapper(io.BytesIO(b"\n".join(lines) + b"\n"), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = stdin, out, err
    try:
        code = main(argv)
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
    result = Run(code, out.getvalue(), err.getvalue(), lines)
    # what a real stdout and stderr must be able to encode
    result.out.encode("utf-8")
    result.err.encode("utf-8")
    assert "Traceback" not in result.err
    return result


def check_outputs(result: Run) -> list[dict[str, Any]]:
    """Every output line is a record valid under its JSON Schema, or an input line passed
    through unchanged."""
    inputs = {line.rstrip(b"\r").decode("utf-8", "replace") for line in result.lines}
    records = []
    # "\n" only: str.splitlines would cut a record at a U+2028 inside a string
    for text in result.out.split("\n")[:-1]:
        record = json.loads(text)
        records.append(record)
        if text in inputs and record.get("record_type") not in {None, "classified", "routed"}:
            continue  # passed through: the command does not vouch for other stages' records
        validator = validators()[record["record_type"]]
        errors = sorted(validator.iter_errors(record), key=str)
        assert not errors, f"{record['record_type']} breaks its schema: {errors[0].message}"
    return records


def tally(
    command: str, counts: dict[str, Counter[str]], result: Run, notes: int = 0, inputs: int | None = None
) -> None:
    messages = result.messages()
    counter = counts.setdefault(command, Counter())
    counter["runs"] += 1
    counter["inputs"] += len(result.nonblank()) if inputs is None else inputs
    counter["outputs"] += result.out.count("\n")
    counter["line_errors"] += len(messages) - notes
    counter["notes"] += notes
    counter["nonzero_exits"] += result.code != 0


def check_one_answer_per_line(result: Run, records: list[dict[str, Any]]) -> None:
    """``classify`` and ``route``: each non-blank line answers once, outputs in line order."""
    messages = result.messages()
    assert all(len(found) == 1 for found in messages.values()), messages
    assert set(messages) <= set(result.nonblank())
    assert len(records) + len(messages) == len(result.nonblank())
    assert result.code == (1 if messages else 0)


@FUZZ
@given(document=ingest_documents())
def test_normalize_answers_every_input(document: tuple[Platform, list[bytes]], fuzz_counts: Any) -> None:
    platform, lines = document
    result = run(ingest_main, ["normalize", "--platform", platform.value, "-"], lines)
    check_outputs(result)
    messages = result.messages()
    assert all(len(found) == 1 for found in messages.values()), messages
    assert set(messages) <= set(result.nonblank())
    if result.nonblank():
        assert result.out or messages, "no output and no line message: silence"
    notes = [n for n, found in messages.items() if found[0].startswith(("skipped ", "no message"))]
    assert result.code == (1 if len(messages) > len(notes) else 0)
    # one document per run, though a pretty-printed one spans many lines
    tally("triage-ingest normalize", fuzz_counts, result, notes=len(notes), inputs=1)


@pytest.mark.usefixtures("fuzz_classifier")
@FUZZ
@given(lines=lines_of(st.one_of(messages(), shorthand_lines, other_records())))
def test_classify_answers_every_line(lines: list[bytes], fuzz_counts: Any) -> None:
    result = run(classifier_main, ["classify"], lines)
    records = check_outputs(result)
    check_one_answer_per_line(result, records)
    tally("triage-classifier classify", fuzz_counts, result)


@FUZZ
@given(lines=lines_of(st.one_of(classified_records(), other_records())))
def test_route_answers_every_line(lines: list[bytes], fuzz_counts: Any) -> None:
    result = run(router_main, ["route", "--policy", str(DEFAULT_POLICY)], lines)
    records = check_outputs(result)
    check_one_answer_per_line(result, records)
    assert all(record["record_type"] != "classified" for record in records)
    tally("triage-router route", fuzz_counts, result)


@FUZZ
@given(lines=lines_of(st.one_of(routed_records(), events(), other_records()), max_lines=6))
def test_replay_answers_every_line(lines: list[bytes], fuzz_counts: Any) -> None:
    result = run(sla_main, ["replay", "--policy", str(DEFAULT_POLICY), "-"], lines)
    check_outputs(result)
    messages = result.messages()
    assert all(len(found) == 1 for found in messages.values()), messages
    assert set(messages) <= set(result.nonblank()), messages
    assert result.code == (1 if messages else 0)  # like classify and route: 1 when any line was rejected
    summary = json.loads(result.err.splitlines()[-1])["summary"]
    assert summary["bad_lines"] == len(messages)
    tally("triage-sla-monitor replay", fuzz_counts, result)


def test_the_fuzz_profile_is_big_enough() -> None:
    assert settings.get_profile("fuzz").max_examples >= 10_000


def test_schemas_are_found() -> None:
    assert set(validators()) >= {"message", "classified", "routed", "conversation_event", "sla_alert"}
    assert Path(ROOT / "schemas" / "json").is_dir()
