"""The offline replay, through the real command line."""

import json
from pathlib import Path
from typing import Any

import pytest

from tests.sla_records import event, routed
from triage_sla_monitor.cli import main

POLICY = """
version: x
sla:
  targets: {payment_issue: 10m, spam: null}
  fallback: {community: {P3: 1h}}
  alerts: {warning: 0.5, breach: 1.0, escalation: 2.0}
  follow_up_after: null
  reply_windows: {windows: {}}
"""


def run(
    tmp_path: Path,
    records: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    extra: str = "",
    expect_code: int = 0,
) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(r) for r in records) + "\n" + extra)
    assert main(["replay", "--policy", str(policy), str(events)]) == expect_code
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    summary = json.loads(err.strip().splitlines()[-1])["summary"]
    return lines, summary, err


def test_replay_reapplies_the_policy_targets_and_fractions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the routed record says 1 h, the policy under test says 10 min: the policy wins
    alerts, summary, _ = run(tmp_path, [routed("c1", 0, target=3600)], capsys)
    assert [(a["kind"], a["elapsed_seconds"], a["target_seconds"]) for a in alerts] == [
        ("warning", 300.0, 600), ("breach", 600.0, 600), ("escalation", 1200.0, 600),
    ]  # fmt: skip
    assert summary["lanes"]["support"]["breaches"] == 1


def test_replay_orders_inputs_by_time_and_summarises(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = [
        event("c1", "agent_replied", 120),  # reply listed before the message it answers
        routed("c1", 0),
        routed("c2", 0),
        event("c2", "agent_replied", 700),  # after the 10 min breach
        routed("c3", 0, issue_type="spam", lane="community", priority="P3", target=None),
        routed("c4", 0, issue_type="feedback", lane="community", priority="P3"),  # fallback 1 h
        event("c4", "agent_replied", 60),
    ]
    alerts, summary, _ = run(tmp_path, records, capsys)
    assert [(a["conversation_id"], a["kind"]) for a in alerts] == [("c2", "warning"), ("c2", "breach")]
    support = summary["lanes"]["support"]
    assert support["answered"] == 2
    assert support["answered_within_target"] == 1
    assert support["breaches"] == 1
    assert support["median_first_response_seconds"] == 410.0
    assert summary["lanes"]["community"]["answered_within_target"] == 1


def test_bad_lines_are_reported_with_their_number_and_others_pass_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = {"record_type": "dead_letter", "stage": "x", "error": "y", "original": "z", "at": "2026-11-02T09:00:00Z"}
    alerts, summary, err = run(tmp_path, [routed("c1", 0), other], capsys, extra="{not json\n", expect_code=1)
    assert "line 3:" in err
    assert summary["bad_lines"] == 1
    assert alerts[0]["record_type"] == "dead_letter"
    assert len(alerts) == 4


def test_a_bad_policy_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("sla: {alerts: {warning: 2, breach: 1, escalation: 3}}")
    events = tmp_path / "e.jsonl"
    events.write_text("")
    assert main(["replay", "--policy", str(policy), str(events)]) == 2
    assert "alert fractions must rise" in capsys.readouterr().err


def test_replay_reports_a_surge_in_the_streams_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Tuned small so the test stream stays short: 1-minute windows, three to learn."""
    surges = "  surges: {window: 60, warmup_windows: 3, min_count: 10, floor: 1}\n"
    steady = [routed(f"s{n}", n * 20.0) for n in range(30)]  # 3 a minute for 10 minutes
    burst = [routed(f"b{n}", 600 + n * 2.0) for n in range(25)]  # then 25 within a minute
    quiet = [routed(f"q{n}", 720 + n * 20.0) for n in range(9)]  # and back to 3 a minute
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY + surges)
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(r) for r in steady + burst + quiet) + "\n")
    assert main(["replay", "--policy", str(policy), "--until", "2026-11-02T09:15:00Z", str(events)]) == 0
    summary = json.loads(capsys.readouterr().err.strip().splitlines()[-1])["summary"]
    kinds = [(s["kind"], s["dimension"]) for s in summary["surges"]]
    # the stream is one platform, lane and issue type: each dimension surges and calms down
    assert sorted(kinds) == sorted(
        [(kind, dimension) for kind in ("surge", "surge_resolved")
         for dimension in ("lane=support", "platform=instagram", "issue_type=payment_issue")]
    )  # fmt: skip
    first = next(s for s in summary["surges"] if s["dimension"] == "platform=instagram")
    assert first["window_start"] == "2026-11-02T09:10:00+00:00" and first["count"] >= 10
    assert first["top"] == [f"payment_issue {first['count']}"]
