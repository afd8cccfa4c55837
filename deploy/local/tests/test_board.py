"""The live view's numbers: backlog, oldest unanswered, median first response, breaches."""

import json
from datetime import timedelta

from rich.console import Console

from tests.sla_records import T0, event, routed
from triage_local.board import Board
from triage_local.view import render, status_line
from triage_schemas import Agent, ConversationEvent, Lane, RoutedMessage, SlaAlert, SurgeAlert


def _routed(cid: str, seconds: float, **kw: object) -> RoutedMessage:
    return RoutedMessage.model_validate(routed(cid, seconds, **kw))  # type: ignore[arg-type]


def _reply(cid: str, seconds: float) -> ConversationEvent:
    return ConversationEvent.model_validate(event(cid, "agent_replied", seconds))


def _breach(cid: str, lane: str = "support") -> SlaAlert:
    return SlaAlert.model_validate(
        {
            "alert_id": f"{cid}:breach",
            "conversation_id": cid,
            "kind": "breach",
            "severity": "critical",
            "lane": lane,
            "priority": "P2",
            "issue_type": "payment_issue",
            "owner": "support-lead",
            "tier": 1,
            "target_seconds": 60,
            "due_at": T0.isoformat(),
            "elapsed_seconds": 60,
            "at": T0.isoformat(),
        }
    )


def test_lane_summary_counts_backlog_oldest_median_and_breaches() -> None:
    board = Board()
    board.add_routed(_routed("a", 0))
    board.add_routed(_routed("b", 10))
    board.add_routed(_routed("c", 20))
    board.add_routed(_routed("spam", 5, target=None))
    board.add_event(_reply("a", 30))
    board.add_event(_reply("b", 100))  # 90 s
    board.add_alert(_breach("c"))
    support = next(s for s in board.lanes(T0 + timedelta(seconds=200)) if s.lane is Lane.SUPPORT)
    assert support.backlog == 1  # c only: spam has no clock
    assert support.oldest_unanswered_seconds == 180
    assert support.median_first_response_seconds == 60  # median of 30 and 90
    assert support.breaches == 1
    assert board.state_of("c") == "BREACH"
    assert board.state_of("spam") == "no clock"


def test_a_reply_seen_before_its_routed_message_still_answers_it() -> None:
    board = Board()
    board.add_event(_reply("x", 40))
    board.add_routed(_routed("x", 10))
    assert board.state_of("x") == "answered"
    support = next(s for s in board.lanes(T0) if s.lane is Lane.SUPPORT)
    assert support.median_first_response_seconds == 30


def test_a_follow_up_keeps_the_first_clock_and_late_answers_are_marked() -> None:
    board = Board()
    board.add_routed(_routed("y", 0))
    board.add_alert(_breach("y"))
    board.add_routed(_routed("y", 50))
    board.add_event(_reply("y", 120))
    assert board.state_of("y") == "answered late"
    assert board.first_responses[Lane.SUPPORT] == [120]


def _agent(agent_id: str, status: str = "online", capacity: int = 2) -> Agent:
    fields = {"agent_id": agent_id, "name": agent_id.title(), "teams": ["support"], "capacity": capacity}
    return Agent.model_validate({**fields, "status": status, "updated_at": T0})


def _assignment(cid: str, kind: str, agent_id: str | None, seconds: float) -> ConversationEvent:
    need = {"team": "support", "lane": "support", "issue_type": "payment_issue", "priority": "P2",
            "since": T0.isoformat()}  # fmt: skip
    return ConversationEvent.model_validate(
        {**event(cid, kind, seconds), "agent_id": agent_id, "need": need, "event_id": f"{kind}:{cid}:{seconds}"}
    )


def test_agents_show_their_open_conversations_and_the_queue_its_waiting_ones() -> None:
    board = Board()
    board.add_agent(_agent("ana"))
    board.add_agent(_agent("bo", status="away"))
    board.add_event(_assignment("a", "assigned", "ana", 1))
    board.add_event(_assignment("b", "assigned", "ana", 2))
    board.add_event(_assignment("c", "unassigned", None, 3))
    assert board.agents["ana"].open == {"a", "b"} and board.queues() == {"support": 1}

    board.add_event(ConversationEvent.model_validate(event("a", "resolved", 10)))
    board.add_event(_assignment("c", "assigned", "ana", 11))  # the queue's head takes the freed slot
    board.add_agent(_agent("ana", capacity=3))  # a roster update keeps what she holds
    assert board.agents["ana"].open == {"b", "c"} and board.queues() == {}
    assert board.agents["ana"].capacity == 3 and board.agents["bo"].status == "away"

    frame = Console(width=140, record=True)
    frame.print(render(board, T0))
    text = frame.export_text()
    assert "Agents" in text and "2 / 3" in text and "nobody waiting for an agent" in text


def _surge(kind: str, platform: str, seconds: float) -> SurgeAlert:
    return SurgeAlert.model_validate(
        {
            "alert_id": f"{kind}:platform:{platform}",
            "kind": kind,
            "severity": "critical",
            "dimension": "platform",
            "value": platform,
            "count": 24,
            "expected": 1.5,
            "window_start": T0.isoformat(),
            "window_seconds": 15,
            "at": (T0 + timedelta(seconds=seconds)).isoformat(),
            "top_issue_types": [{"issue_type": "payment_issue", "count": 22}],
        }
    )


def test_a_surge_shows_until_its_resolution_and_names_what_drives_it() -> None:
    board = Board()
    board.add_surge(_surge("surge", "instagram", 5))
    assert [f"{a.dimension.value}:{a.value}" for a in board.open_surges()] == ["platform:instagram"]
    assert json.loads(status_line(board, T0))["surges"] == ["platform:instagram"]
    frame = Console(width=140, record=True)
    frame.print(render(board, T0))
    text = frame.export_text()
    assert "Surges" in text and "platform instagram" in text and "payment_issue 22" in text and "surges 1" in text

    board.add_surge(_surge("surge_resolved", "instagram", 60))
    assert board.open_surges() == [] and board.counts["surges"] == 1
    frame = Console(width=140, record=True)
    frame.print(render(board, T0))
    assert "ended" in frame.export_text()
