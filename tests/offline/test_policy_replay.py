"""What a care lead runs before deploying a policy change: last week's traffic through
`triage-router route --policy P | triage-sla-monitor replay --policy P`, for two
policies, then `triage-sla-monitor compare`. Business hours, reply windows and
automated replies behave offline exactly as in the services."""

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from tests.factories import classified
from triage_router.policy import DEFAULT_POLICY

BIN = Path(sys.executable).parent
PARIS = ZoneInfo("Europe/Paris")


def paris(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS)


def policy(tmp_path: Path, name: str, calendar: bool) -> Path:
    data = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))
    data["version"] = name
    weekdays = {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
    data["calendars"] = {"paris-office": {"timezone": "Europe/Paris", "weekly": weekdays}}
    if calendar:
        data["teams"]["support"]["calendar"] = "paris-office"
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def reply(cid: str, at: datetime, actor_kind: str | None = None) -> dict[str, Any]:
    record = {"record_type": "conversation_event", "event_id": f"{cid}:{at.isoformat()}", "conversation_id": cid,
              "type": "agent_replied", "at": at.isoformat()}  # fmt: skip
    return {**record, "actor_kind": actor_kind} if actor_kind else record


def week(tmp_path: Path) -> Path:
    def message(cid: str, received: datetime, **fields: Any) -> str:
        return classified("payment_issue", conversation_id=cid, message_id=f"m-{cid}", received_at=received,
                          **fields).model_dump_json()  # fmt: skip

    lines = [
        # a Messenger DM on Friday evening; only a chatbot answers it
        message("dm", paris("2026-12-04 17:30"), platform="messenger", channel="direct_message"),
        json.dumps(reply("dm", paris("2026-12-04 17:31"), "automation")),
        # a public comment just before closing, answered by a person first thing on Monday
        message("late", paris("2026-12-04 17:50")),
        json.dumps(reply("late", paris("2026-12-07 09:20"))),
    ]
    path = tmp_path / "week.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def route_and_replay(policy_file: Path, traffic: Path, summary: Path) -> list[dict[str, Any]]:
    routed = subprocess.run([BIN / "triage-router", "route", "--policy", str(policy_file)], input=traffic.read_bytes(),
                            capture_output=True, check=True)  # fmt: skip
    replayed = subprocess.run(
        [BIN / "triage-sla-monitor", "replay", "--policy", str(policy_file), "--summary-json", str(summary), "-"],
        input=routed.stdout, capture_output=True, check=True,
    )  # fmt: skip
    return [json.loads(line) for line in replayed.stdout.splitlines()]


def test_a_calendar_and_a_reply_window_offline_then_the_comparison_a_lead_reads(tmp_path: Path) -> None:
    traffic = week(tmp_path)
    with_hours = route_and_replay(policy(tmp_path, "office-hours", True), traffic, tmp_path / "a.json")
    around_the_clock = route_and_replay(policy(tmp_path, "24-7", False), traffic, tmp_path / "b.json")

    alerts = {(a["conversation_id"], a["kind"]): a for a in with_hours if a.get("record_type") == "sla_alert"}
    # the chatbot's reply stopped nothing; the DM falls due an hour before Meta's 24 h window closes
    breach = alerts["dm", "breach"]
    assert datetime.fromisoformat(breach["due_at"]) == paris("2026-12-05 16:30")
    assert breach["at"] == breach["due_at"]  # virtual time: when it fell due, not when the next record came
    assert breach["calendar"] == "paris-office"
    assert ("dm", "window_closing") in alerts
    # Friday 17:50 to Monday 09:20 is 30 minutes of open time: within the 1 h target
    assert not any(cid == "late" and kind in ("warning", "breach") for cid, kind in alerts)
    late_24_7 = {a["kind"] for a in around_the_clock if a.get("conversation_id") == "late"}
    assert {"warning", "breach", "escalation"} <= late_24_7

    command = [str(BIN / "triage-sla-monitor"), "compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")]
    compared = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    breaches = next(line for line in compared.splitlines() if line.split()[:2] == ["support", "breaches"])
    assert breaches.split()[2:] == ["1", "2", "+1"]
    assert compared.splitlines()[0].split()[2:4] == ["office-hours", "24-7"]
