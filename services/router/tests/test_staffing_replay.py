"""``triage-router route --agents``: last week's traffic against a staffing plan."""

import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.factories import RECEIVED, classified
from triage_router.cli import main
from triage_router.roster import RosterError, load_roster

EXAMPLE = Path(__file__).parent.parent / "examples" / "roster.yaml"


def roster(tmp_path: Path, *agents: dict[str, Any]) -> Path:
    path = tmp_path / "roster.yaml"
    path.write_text(yaml.safe_dump({"agents": list(agents)}), encoding="utf-8")
    return path


def order(n: int, minutes: float) -> str:
    at = RECEIVED + timedelta(minutes=minutes)
    return (
        classified(
            "order_shipping", message_id=f"ig:{n}", conversation_id=f"c{n}", author={"id": f"a{n}"}, received_at=at
        )
        .to_json_bytes()
        .decode()
    )


def resolved(n: int, minutes: float) -> str:
    at = (RECEIVED + timedelta(minutes=minutes)).isoformat()
    return json.dumps({"record_type": "conversation_event", "event_id": f"r{n}", "conversation_id": f"c{n}",
                       "type": "resolved", "at": at})  # fmt: skip


def run(argv: list[str], lines: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, list[dict[str, Any]], str]:
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    status = main(argv)
    return status, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def test_a_staffing_plan_replayed_assigns_queues_and_reports_waits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = roster(
        tmp_path,
        {"agent_id": "ana", "name": "Ana", "teams": ["support"], "capacity": 1, "status": "online"},
        {"agent_id": "ben", "name": "Ben", "teams": ["support"], "capacity": 1, "status": "online"},
    )
    stream = [order(1, 0), order(2, 1), order(3, 2), resolved(1, 12), order(4, 13)]
    status, records, err = run(["route", "--agents", str(plan)], stream, monkeypatch)

    assert status == 0
    routed = {r["conversation_id"]: r["routing"] for r in records if r["record_type"] == "routed"}
    assert (routed["c1"]["agent_id"], routed["c2"]["agent_id"]) == ("ana", "ben")
    assert routed["c3"]["agent_id"] is None
    assert routed["c3"]["queued_reason"] == "every eligible agent of support is at capacity"
    assert routed["c4"]["queued_reason"] == routed["c3"]["queued_reason"]  # c3 took ana's freed slot first
    events = [
        (r["type"], r["conversation_id"], r.get("agent_id"))
        for r in records
        if r["record_type"] == "conversation_event"
    ]
    assert events == [
        ("assigned", "c1", "ana"),
        ("assigned", "c2", "ben"),
        ("unassigned", "c3", None),
        ("resolved", "c1", None),  # the input event passes through
        ("assigned", "c3", "ana"),  # then ana's freed slot goes to the head of the queue
        ("unassigned", "c4", None),
    ]
    assert "ana                          2           1          1             1" in err
    assert (
        "queue: 2 conversations waited; wait for an agent p50 0.0 min, p90 10.0 min, max 10.0 min; 1 still waiting"
        in err
    )


def test_without_a_roster_nothing_is_assigned(monkeypatch: pytest.MonkeyPatch) -> None:
    status, records, err = run(["route"], [order(1, 0)], monkeypatch)
    assert status == 0 and [r["record_type"] for r in records] == ["routed"]
    assert records[0]["routing"]["agent_id"] is None and records[0]["routing"]["queued_reason"] is None
    assert "queue:" not in err


def test_the_example_roster_is_valid() -> None:
    agents = load_roster(EXAMPLE)
    assert len(agents) >= 5 and {a.status for a in agents} >= {"online", "away"}


@pytest.mark.parametrize(
    ("agents", "expected"),
    [
        ([{"agent_id": "a", "name": "A", "teams": ["support"], "capacity": -1, "status": "online"}], "agents.0:"),
        ([{"agent_id": "a", "name": "A", "teams": ["support"], "capacity": 2, "status": "asleep"}], "status"),
        ([{"agent_id": "a", "name": "A", "teams": [], "capacity": 2, "status": "online"}], "teams"),
        (
            [{"agent_id": "a", "name": "A", "teams": ["x"], "capacity": 1, "status": "online"}] * 2,
            "agents.1.agent_id: 'a' is listed twice",
        ),
    ],
)
def test_a_broken_roster_is_refused_with_where_and_why(tmp_path: Path, agents: list[Any], expected: str) -> None:
    with pytest.raises(RosterError, match=expected.replace(".", r"\.")):
        load_roster(roster(tmp_path, *agents))
