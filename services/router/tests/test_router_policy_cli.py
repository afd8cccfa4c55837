"""Broken policy files give precise messages; the offline commands behave like the service."""

import io
import json
from pathlib import Path

import pytest
import yaml

from triage_router.cli import main, route_lines
from triage_router.policy import DEFAULT_POLICY, DEMO_POLICY, PolicyError, load_policy, parse_policy


def broken(edit: str) -> dict[str, object]:
    data: dict[str, object] = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))
    exec(edit, {"p": data})
    return data


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ("p['sla']['targets']['payment_issue'] = -5", "sla.targets.payment_issue:"),
        ("p['sla']['targets']['payment_issue'] = 'soon'", "sla.targets.payment_issue:"),
        ("p['sla']['targets']['refund_issue'] = '1h'", "sla.targets.refund_issue"),
        ("p['lanes']['vip'] = {'team': 'growth'}", "lanes.vip: unknown name"),
        (
            "p['issue_types']['payment_issue']['specialist'] = 'nobody'",
            "issue_types.payment_issue.specialist: 'nobody'",
        ),
        ("p['triggers'][0]['owner'] = 'ghost'", "triggers.0.owner: 'ghost'"),
        ("p['triggers'][1]['when']['lanes'] = ['vip']", "triggers.1.when.lanes.0"),
        ("p['issue_types']['feedback']['template'] = 'missing'", "issue_types.feedback.template: 'missing'"),
        ("p['lanes']['risk']['team'] = 'legal-dept'", "lanes.risk.team: 'legal-dept'"),
        ("del p['issue_types']['spam']", "issue_types.spam: missing"),
        ("p['sla']['alerts']['warning'] = 1.5", "sla.alerts"),
        ("p['triggers'][2]['when'] = {}", "triggers.2.when: no condition"),
        ("p['triggers'][3]['id'] = p['triggers'][0]['id']", "triggers.3.id:"),
        ("p['issue_types']['feedback']['reply_mode'] = 'shout'", "issue_types.feedback.reply_mode"),
    ],
)
def test_broken_policy_names_the_path(edit: str, expected: str) -> None:
    with pytest.raises(PolicyError) as raised:
        parse_policy(broken(edit))
    assert any(error.startswith(expected) for error in raised.value.errors), raised.value.errors


def test_every_error_is_reported_at_once() -> None:
    data = broken("p['issue_types']['payment_issue']['specialist'] = 'x'; p['triggers'][0]['owner'] = 'y'")
    with pytest.raises(PolicyError) as raised:
        parse_policy(data)
    assert len(raised.value.errors) == 2


def test_check_policy_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-policy", str(DEFAULT_POLICY)]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(broken("p['sla']['targets']['payment_issue'] = -1")), encoding="utf-8")
    assert main(["check-policy", str(bad)]) == 1
    assert "sla.targets.payment_issue:" in capsys.readouterr().err
    bad.write_text("version: [unclosed", encoding="utf-8")
    assert main(["check-policy", str(bad)]) == 1
    assert "(yaml)" in capsys.readouterr().err


def test_missing_policy_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "nope.yaml")


CLASSIFIED = {
    "record_type": "classified",
    "message_id": "x:1",
    "conversation_id": "c1",
    "platform": "x",
    "channel": "mention",
    "direction": "inbound",
    "author": {"id": "a"},
    "text": "where is my order",
    "created_at": "2026-11-22T12:00:00Z",
    "received_at": "2026-11-22T12:00:00Z",
    "classification": {
        "issue_type": "order_shipping",
        "lane": "support",
        "priority": "P2",
        "confidence": 0.8,
        "needs_review": False,
        "sentiment": {"label": "negative", "score": 0.7},
        "scores": {"order_shipping": 0.8},
        "model_version": "m1",
    },
}


def test_route_routes_passes_through_and_reports_bad_lines() -> None:
    event = {"record_type": "conversation_event", "event_id": "e1"}
    lines = [
        json.dumps(CLASSIFIED),
        "{not json",
        json.dumps(event),
        json.dumps({"record_type": "classified"}),
        json.dumps(CLASSIFIED),
    ]
    out, err = io.StringIO(), io.StringIO()
    bad = route_lines(load_policy(DEFAULT_POLICY), io.StringIO("\n".join(lines) + "\n"), out, err)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["record_type"] for r in records] == ["routed", "conversation_event", "routed"]
    assert records[0]["routing"]["owner"] == "logistics"
    assert records[0]["routing"]["first_response_due_at"] == "2026-11-22T14:00:00Z"
    assert bad == 2
    assert "line 2:" in err.getvalue() and "line 4:" in err.getvalue()


def route_main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], lines: list[bytes]
) -> tuple[int, list[dict[str, object]], list[str]]:
    """``triage-router route`` with ``lines`` on stdin: exit status, records, stderr lines."""
    stdin = io.TextIOWrapper(io.BytesIO(b"\n".join(lines) + b"\n"), encoding="utf-8")
    monkeypatch.setattr("sys.stdin", stdin)
    code = main(["route"])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.split("\n") if line], err.splitlines()


def classified(**changes: object) -> bytes:
    return json.dumps({**CLASSIFIED, **changes}).encode()


def test_route_rejects_what_is_not_a_record_and_exits_1_saying_how_many(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [classified(), b"5", json.dumps({**CLASSIFIED, "record_type": "clasified"}).encode(), classified()]
    code, records, err = route_main(monkeypatch, capsys, lines)
    assert code == 1
    assert [r["record_type"] for r in records] == ["routed", "routed"]
    assert err[0].startswith("line 2: a JSON int, not a record")
    assert err[1].startswith("line 3: record_type 'clasified' is not one of")
    assert err[2] == "triage-router route: 2 lines were rejected (see the line N: messages above)"


def test_route_exits_0_when_every_line_was_routed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, records, err = route_main(monkeypatch, capsys, [classified(), b"", classified()])
    assert (code, len(records), err) == (0, 2, [])


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested more than 64 levels deep"),
        (classified(text="\ud800 where is my order"), "unpaired surrogate"),
        (classified(created_at="0001-01-01T00:00:00+05:00"), "created_at"),
        (classified(received_at="9999-12-31T23:59:59-05:00"), "received_at"),
        (classified(received_at="2099-12-31T23:30:00Z"), "cannot route: first_response_due_at"),
        (classified().replace(b'"order_shipping": 0.8', b'"order_shipping": 1e999'), "too large for a float"),
        (b'{"record_type": "classified", "confidence": NaN}', "NaN"),
        (b'{"record_type": "classified", "text": "caf\xe9"}', "not valid UTF-8"),
    ],
)
def test_hostile_lines_are_line_errors_and_the_good_ones_around_them_are_routed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], line: bytes, reason: str
) -> None:
    code, records, err = route_main(monkeypatch, capsys, [classified(), line, classified()])
    assert code == 1
    assert [r["record_type"] for r in records] == ["routed", "routed"]
    assert err[0].startswith("line 2: ") and reason in err[0], err
    assert len(err) == 2


def test_demo_policy_has_the_default_rules_with_targets_of_seconds() -> None:
    default, demo = load_policy(DEFAULT_POLICY), load_policy(DEMO_POLICY)
    assert demo.model_dump(exclude={"sla", "version"}) == default.model_dump(exclude={"sla", "version"})
    targets = [t for t in demo.sla.targets.values() if t is not None]
    assert targets and max(targets) <= 120
    assert demo.sla.targets.keys() == default.sla.targets.keys()
