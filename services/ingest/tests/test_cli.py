"""`triage-ingest normalize`: what a connector author runs on their payloads."""

import json
import subprocess
import sys
from pathlib import Path

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
