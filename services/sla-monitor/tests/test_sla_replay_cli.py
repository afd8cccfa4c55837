"""`triage-sla-monitor replay` on hostile input (issue 13): a line error, never a crash."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.sla_records import event, routed
from triage_sla_monitor.cli import main

POLICY = """
version: x
sla:
  targets: {payment_issue: 10m, feedback: 1000000000000, product_question: 3000000000, spam: null}
  alerts: {warning: 0.5, breach: 1.0, escalation: 2.0}
  follow_up_after: null
  reply_windows: {windows: {}}
"""


def replay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: list[bytes], *args: str
) -> tuple[int, list[dict[str, object]], list[str]]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(lines) + b"\n")
    code = main(["replay", "--policy", str(policy), *args, str(events)])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.split("\n") if line], err.splitlines()


def line(record: dict[str, object]) -> bytes:
    return json.dumps(record).encode()


def summary(err: list[str]) -> dict[str, object]:
    found: dict[str, object] = json.loads(err[-1])["summary"]
    return found


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested more than 64 levels deep"),
        (line({**routed("c9", 0), "created_at": "0001-01-01T00:00:00+05:00"}), "created_at"),
        (line({**event("c1", "agent_replied", 60), "at": "9999-12-31T23:59:59-05:00"}), "at: "),
        (line({**event("c1", "agent_replied", 60), "at": "2026-11-02T09:01:00"}), "timezone"),
        (b'{"record_type": "routed", "text": "caf\xe9"}', "not valid UTF-8"),
        (line({**routed("c9", 0), "text": "\ud800"}), "unpaired surrogate"),
        (b"5", "a JSON int, not a record"),
        (b'{"record_type": "rooted"}', "record_type 'rooted' is not one of"),
    ],
)
def test_a_hostile_line_is_one_line_error_and_the_replay_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: bytes, reason: str
) -> None:
    code, alerts, err = replay(tmp_path, capsys, [line(routed("c1", 0)), bad, line(event("c1", "agent_replied", 700))])
    assert code == 1  # the run stands; the status says a line was rejected
    assert [a["kind"] for a in alerts] == ["warning", "breach"]
    assert err[0].startswith("line 2: ") and reason in err[0], err
    assert err[1] == "triage-sla-monitor replay: 1 line was rejected (see the line N: messages above)"
    assert summary(err)["bad_lines"] == 1


def test_alerts_due_after_the_last_writable_time_are_errors_of_the_line_that_started_the_clock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    late = routed("c2", 0, target=60, base=datetime(2099, 12, 31, 23, 55, tzinfo=UTC))  # policy: warns in 2100
    far = routed("c3", 0, issue_type="feedback", lane="community", priority="P3")  # due after year 9999
    half = routed(
        "c4", 0, issue_type="product_question", lane="sales", priority="P3"
    )  # warns in 2074, breaches in 2121
    code, alerts, err = replay(tmp_path, capsys, [line(routed("c1", 0)), line(late), line(far), line(half)])
    assert code == 1
    assert sorted((a["conversation_id"], a["kind"]) for a in alerts) == [
        ("c1", "breach"), ("c1", "escalation"), ("c1", "warning"), ("c4", "warning"),
    ]  # fmt: skip
    errors = sorted(e for e in err if e.startswith("line"))
    assert [e.split(":")[0] for e in errors] == ["line 2", "line 3", "line 4"]
    assert errors[0].startswith("line 2: its warning alert cannot be written: due_at: ") and "2100" in errors[0]
    assert errors[1].startswith("line 3: its warning alert cannot be written: year ")
    assert errors[2].startswith("line 4: its breach alert cannot be written")
    assert summary(err)["bad_lines"] == 3


@pytest.mark.parametrize(
    ("until", "reason"),
    [
        ("next tuesday", "not an ISO-8601 time"),
        ("2026-11-02T10:00:00", "needs a zone offset"),
    ],
)
def test_an_unusable_until_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], until: str, reason: str
) -> None:
    code, alerts, err = replay(tmp_path, capsys, [line(routed("c1", 0))], "--until", until)
    assert (code, alerts) == (2, [])
    assert err == [f"triage-sla-monitor: --until {until!r}: {err[0].split(': ', 2)[2]}"]
    assert reason in err[0]


def test_until_stops_the_clock(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, alerts, _ = replay(tmp_path, capsys, [line(routed("c1", 0))], "--until", "2026-11-02T09:06:00Z")
    assert (code, [a["kind"] for a in alerts]) == (0, ["warning"])


def test_a_missing_events_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    assert main(["replay", "--policy", str(policy), str(tmp_path / "nope.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err == f"triage-sla-monitor: cannot read {tmp_path / 'nope.jsonl'}: No such file or directory\n"
