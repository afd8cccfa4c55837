"""`triage-ingest normalize`: what a connector author runs on their payloads."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from triage_ingest.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
COMMAND = [str(Path(sys.executable).parent / "triage-ingest"), "normalize"]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, *args], input=stdin, capture_output=True, text=True, timeout=60)


def test_a_payload_file_prints_messages_and_brand_replies_as_json_lines() -> None:
    done = run("--platform", "x", str(FIXTURES / "x_dm.json"))
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["record_type"] for r in records] == ["message", "conversation_event"]
    assert records[0]["author"]["handle"] == "devp_codes"
    assert records[1]["type"] == "agent_replied"
    assert records[1]["conversation_id"] == records[0]["conversation_id"]


def test_json_lines_of_envelopes_from_stdin_with_a_bad_line_reported_by_number() -> None:
    good = {
        "record_type": "raw_envelope",
        "platform": "telegram",
        "received_at": "2026-11-22T12:00:00Z",
        "payload": json.loads((FIXTURES / "telegram_private_message.json").read_text()),
    }
    lines = "\n".join([json.dumps(good), '{"record_type": "raw_envelope", "platform": "myspace"}', "{oops"])
    done = run("-", stdin=lines)
    assert done.returncode == 1
    assert len(done.stdout.splitlines()) == 1
    assert "line 2: unknown platform 'myspace'" in done.stderr
    assert "line 3: not JSON" in done.stderr


def test_skipped_events_are_reported_not_failed() -> None:
    done = run("--platform", "whatsapp", str(FIXTURES / "whatsapp_status.json"))
    assert done.returncode == 0
    assert done.stdout == ""
    assert "skipped 2 non-message event(s) (status x2)" in done.stderr


def test_a_bare_payload_without_platform_is_explained() -> None:
    done = run(str(FIXTURES / "x_dm.json"))
    assert done.returncode == 1
    assert "needs --platform" in done.stderr


# Hostile lines (issue 13): every input answers on its own, and the run goes on.


def envelope(fixture: str, platform: str, **changes: object) -> dict[str, object]:
    return {
        "record_type": "raw_envelope",
        "platform": platform,
        "received_at": "2026-11-22T12:00:00Z",
        "payload": json.loads((FIXTURES / fixture).read_text()),
        **changes,
    }


def normalize_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: list[bytes], *args: str
) -> tuple[int, list[dict[str, object]], str]:
    source = tmp_path / "input.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    code = main(["normalize", *args, str(source)])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.split("\n") if line], err


def test_a_deeply_nested_line_is_a_line_error_between_good_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    good_1 = json.dumps(envelope("telegram_private_message.json", "telegram")).encode()
    good_2 = json.dumps(envelope("instagram_dm.json", "instagram")).encode()
    code, records, err = normalize_lines(tmp_path, capsys, [good_1, nested, good_2])
    assert code == 1
    assert [r["platform"] for r in records] == ["telegram", "instagram"]
    assert "line 2: nested more than 64 levels deep" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("received_at", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_a_timestamp_at_the_calendars_edge_is_a_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], received_at: str
) -> None:
    bad = json.dumps(envelope("telegram_private_message.json", "telegram", received_at=received_at)).encode()
    good = json.dumps(envelope("instagram_dm.json", "instagram")).encode()
    code, records, err = normalize_lines(tmp_path, capsys, [bad, good])
    assert code == 1
    assert [r["platform"] for r in records] == ["instagram"]
    assert err.startswith("line 1: ") and "received_at" in err.splitlines()[0]


def test_a_payload_without_messages_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = json.dumps({"object": "page", "entry": []}).encode()
    code, records, err = normalize_lines(tmp_path, capsys, [empty], "--platform", "messenger")
    assert code == 0 and records == []
    assert err.splitlines() == ["line 1: no message in this messenger payload (nothing to normalize)"]


def test_a_line_separator_inside_a_json_string_does_not_split_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = envelope("telegram_private_message.json", "telegram")
    payload = record["payload"]
    assert isinstance(payload, dict)
    payload["message"]["text"] = "first\u2028second\u2029third"
    lines = [json.dumps(record, ensure_ascii=False).encode(), json.dumps(envelope("x_dm.json", "x")).encode()]
    code, records, err = normalize_lines(tmp_path, capsys, lines)
    assert code == 0, err
    assert records[0]["text"] == "first\u2028second\u2029third"
    assert [r["platform"] for r in records] == ["telegram", "x", "x"]


def test_a_bad_byte_costs_its_line_not_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = json.dumps(envelope("telegram_private_message.json", "telegram")).encode()
    code, records, err = normalize_lines(tmp_path, capsys, [b'{"text": "caf\xe9"}', good])
    assert code == 1
    assert [r["platform"] for r in records] == ["telegram"]
    assert "line 1: not valid UTF-8" in err


def test_lone_surrogates_and_nan_are_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    surrogate = json.dumps(envelope("telegram_private_message.json", "telegram", source="\ud800")).encode()
    nan = json.dumps(envelope("instagram_dm.json", "instagram", schema_version=float("nan"))).encode()
    code, records, err = normalize_lines(tmp_path, capsys, [surrogate, nan])
    assert code == 1 and records == []
    assert [line.split(":")[0] for line in err.splitlines()[:2]] == ["line 1", "line 2"]
    assert "surrogate" in err and "NaN" in err
    assert "2 lines were rejected" in err


def test_a_missing_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["normalize", str(tmp_path / "nope.json")]) == 2
    assert (
        capsys.readouterr().err == f"triage-ingest: cannot read {tmp_path / 'nope.json'}: No such file or directory\n"
    )
