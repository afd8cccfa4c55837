"""Who takes a conversation: the assignment book's decisions, without Kafka."""

from datetime import UTC, datetime
from typing import Any

import pytest

from triage_router.assignment import AgentBook, DecisionLog
from triage_router.policy import AssignmentRules
from triage_schemas.enums import AssignStrategy, ConversationEventType, IssueType, Lane, Priority
from triage_schemas.records import Agent, ConversationEvent, Need

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC).timestamp()
DAY = 86_400.0


def agent(agent_id: str, **fields: Any) -> Agent:
    values: dict[str, Any] = {
        "agent_id": agent_id, "name": agent_id.title(), "teams": ["support"], "capacity": 2,
        "status": "online", "updated_at": datetime.fromtimestamp(T0, UTC),
    }  # fmt: skip
    return Agent.model_validate({**values, **fields})


def need(customer: str = "x:1", **fields: Any) -> Need:
    values: dict[str, Any] = {
        "team": "support", "lane": Lane.SUPPORT, "issue_type": IssueType.PAYMENT_ISSUE, "priority": Priority.P2,
        "language": "en", "customer": customer, "since": datetime.fromtimestamp(T0, UTC),
    }  # fmt: skip
    return Need.model_validate({**values, **fields})


def book(*agents: Agent, strategy: AssignStrategy = AssignStrategy.LEAST_LOADED, **rules: Any) -> AgentBook:
    result = AgentBook(AssignmentRules(**rules), {"support": strategy, "growth": strategy})
    for a in agents:
        result.apply_agent(a.agent_id, a)
    return result


def resolved(conversation: str, at: float = T0) -> ConversationEvent:
    return ConversationEvent(
        event_id=f"resolved:{conversation}", conversation_id=conversation, type=ConversationEventType.RESOLVED,
        at=datetime.fromtimestamp(at, UTC),
    )  # fmt: skip


def place(b: AgentBook, conversation: str, n: Need | None = None, at: float = T0) -> str | None:
    log: DecisionLog = []
    placement = b.place(conversation, n or need(), at, f"msg-{conversation}-{at}", log)
    b.acknowledged(log)
    return placement.agent_id


def reconcile(b: AgentBook, at: float = T0, owned: Any = lambda _: True) -> list[ConversationEvent]:
    log: DecisionLog = []
    events = b.reconcile(owned, at, log)
    b.acknowledged(log)
    return events


@pytest.mark.parametrize(
    ("fields", "message", "takes"),
    [
        ({}, {}, True),
        ({"status": "away"}, {}, False),
        ({"status": "offline"}, {}, False),
        ({"teams": ["growth"]}, {}, False),
        ({"skills": ["order_shipping"]}, {}, False),
        ({"skills": ["payment_issue"]}, {}, True),
        ({"skills": ["support"]}, {}, True),  # a lane is a skill for all its issue types
        ({"languages": ["fr", "es"]}, {}, False),
        ({"languages": ["fr", "en"]}, {}, True),
        ({"languages": ["fr"]}, {"language": None}, True),  # language unknown: anyone may answer
    ],
)
def test_eligibility_by_status_team_skill_and_language(
    fields: dict[str, Any], message: dict[str, Any], takes: bool
) -> None:
    b = book(agent("ana", **fields))
    assert (place(b, "c1", need(**message)) == "ana") is takes


def test_capacity_is_respected_and_the_rest_waits_in_the_team_queue() -> None:
    b = book(agent("ana", capacity=2))
    assert [place(b, c) for c in ("c1", "c2", "c3")] == ["ana", "ana", None]
    log: DecisionLog = []
    waiting = b.place("c3", need(), T0, "again", log)
    assert waiting.agent_id is None and waiting.queued_reason == "every eligible agent of support is at capacity"
    assert b.load["ana"] == 2


def test_the_reason_says_why_nobody_can_take_it() -> None:
    assert book().place("c1", need(), T0, "m", []).reason == "no roster"
    b = book(agent("ana", status="away"), agent("bo", teams=["growth"]))
    assert b.place("c1", need(), T0, "m", []).queued_reason == "no agent of support is online"
    b = book(agent("ana", languages=["fr"]))
    assert b.place("c1", need(), T0, "m", []).queued_reason == "no online agent of support takes payment_issue in en"


def test_least_loaded_spreads_conversations() -> None:
    b = book(agent("ana", capacity=5), agent("bo", capacity=5), agent("cy", capacity=5))
    owners = [place(b, f"c{i}", need(customer=f"x:{i}")) for i in range(6)]
    assert sorted(o or "" for o in owners) == ["ana", "ana", "bo", "bo", "cy", "cy"]


def test_round_robin_takes_turns_in_agent_order() -> None:
    b = book(
        agent("ana", capacity=9), agent("bo", capacity=9), agent("cy", capacity=9), strategy=AssignStrategy.ROUND_ROBIN
    )
    place(b, "c0", need(customer="x:0"))
    b.apply_event(resolved("c0"))  # load does not matter to round robin, only the turn
    owners = [place(b, f"c{i}", need(customer=f"x:{i}")) for i in range(1, 5)]
    assert owners == ["bo", "cy", "ana", "bo"]


def test_an_open_conversation_keeps_its_agent() -> None:
    b = book(agent("ana", capacity=5), agent("bo", capacity=5))
    first = place(b, "c1")
    place(b, "c2", need(customer="x:2"))
    log: DecisionLog = []
    again = b.place("c1", need(), T0 + 60, "second message", log)
    assert (again.agent_id, again.events, again.reason) == (first, [], "open conversation keeps its agent")


@pytest.mark.parametrize(("days_later", "back_to_ana"), [(1, True), (6.9, True), (7.1, False)])
def test_a_returning_customer_goes_back_to_their_agent_within_sticky_days(days_later: float, back_to_ana: bool) -> None:
    b = book(agent("ana", capacity=5), agent("bo", capacity=5), sticky_days=7)
    assert place(b, "c1", need(customer="x:42")) == "ana"
    b.apply_event(resolved("c1"))
    place(b, "c-other", need(customer="x:7"))  # ana is busier now: least loaded alone would pick bo
    later = T0 + days_later * DAY
    assert (place(b, "c2", need(customer="x:42"), at=later) == "ana") is back_to_ana


def test_a_returning_customer_whose_agent_is_away_gets_another() -> None:
    b = book(agent("ana", capacity=5), agent("bo", capacity=5))
    place(b, "c1", need(customer="x:42"))
    b.apply_event(resolved("c1"))
    b.apply_agent("ana", agent("ana", status="away"))
    assert place(b, "c2", need(customer="x:42"), at=T0 + 60) == "bo"


def test_the_queue_drains_in_priority_then_arrival_order_when_an_agent_frees_up() -> None:
    b = book(agent("ana", capacity=1))
    place(b, "busy")
    place(b, "p3-early", need(customer="x:3", priority=Priority.P3), at=T0 + 1)
    place(b, "p2-late", need(customer="x:4", since=datetime.fromtimestamp(T0 + 5, UTC)), at=T0 + 5)
    place(b, "p2-early", need(customer="x:5", since=datetime.fromtimestamp(T0 + 2, UTC)), at=T0 + 2)
    assert reconcile(b) == []  # nobody is free: nothing moves

    b.apply_event(resolved("busy"))
    [event] = reconcile(b, at=T0 + 60)
    assert (event.type, event.conversation_id, event.agent_id) == (ConversationEventType.ASSIGNED, "p2-early", "ana")
    assert event.reason is not None and event.reason.startswith("from the support queue after")
    b.apply_event(resolved("p2-early"))
    assert [e.conversation_id for e in reconcile(b, at=T0 + 120)] == ["p2-late"]


def test_a_new_conversation_does_not_jump_the_queue() -> None:
    b = book(agent("ana", capacity=1))
    place(b, "busy")
    place(b, "waiting")
    b.apply_event(resolved("busy"))  # a slot is free, but "waiting" was first
    log: DecisionLog = []
    newcomer = b.place("new", need(customer="x:9", since=datetime.fromtimestamp(T0 + 1, UTC)), T0 + 1, "m", log)
    assert newcomer.agent_id is None and newcomer.queued_reason == "1 waiting ahead in the support queue"
    assert [e.conversation_id for e in reconcile(b, at=T0 + 2)] == ["waiting"]


def test_an_agent_going_offline_hands_back_p1_and_p2_but_keeps_p3() -> None:
    b = book(agent("ana", capacity=5), agent("bo", capacity=5))
    for conversation, priority in (("p1", Priority.P1), ("p2", Priority.P2), ("p3", Priority.P3)):
        b.apply_agent("bo", agent("bo", status="away"))  # so that ana takes all three
        place(b, conversation, need(customer=f"x:{conversation}", priority=priority))
    b.apply_agent("bo", agent("bo"))
    b.apply_agent("ana", agent("ana", status="offline"))

    events = reconcile(b, at=T0 + 60)
    moves = [(e.type, e.conversation_id, e.agent_id) for e in events]
    assert moves == [
        (ConversationEventType.UNASSIGNED, "p1", "ana"),
        (ConversationEventType.UNASSIGNED, "p2", "ana"),
        (ConversationEventType.ASSIGNED, "p1", "bo"),
        (ConversationEventType.ASSIGNED, "p2", "bo"),
    ]
    assert events[0].reason == "agent ana is offline"
    assert b.conversations["p3"].agent_id == "ana"


def test_a_replica_acts_only_for_the_conversations_it_owns_but_plans_for_all() -> None:
    b = book(agent("ana", capacity=1), agent("bo", capacity=1))
    place(b, "x")
    place(b, "y")
    place(b, "mine")
    place(b, "theirs")
    b.apply_event(resolved("x"))  # one slot frees: "mine" waited first and gets it
    events = reconcile(b, owned=lambda c: c == "mine")
    assert [e.conversation_id for e in events] == ["mine"]
    b.apply_event(resolved("y"))
    assert reconcile(b, owned=lambda c: c == "mine") == []  # "theirs" is next: its owner acts


def test_two_replicas_that_assigned_at_once_give_the_excess_back() -> None:
    left, right = book(agent("ana", capacity=1)), book(agent("ana", capacity=1))
    left_log: DecisionLog = []
    right_log: DecisionLog = []
    [a] = left.place("c-left", need(customer="x:1"), T0, "m1", left_log).events
    [b] = right.place("c-right", need(customer="x:2"), T0 + 0.01, "m2", right_log).events
    left.acknowledged(left_log)
    right.acknowledged(right_log)
    for replica in (left, right):  # each reads the other's assignment from the log
        replica.apply_event(a)
        replica.apply_event(b)
    assert left.load["ana"] == right.load["ana"] == 2

    # the later assignment is given back, by its owner only
    assert reconcile(left, at=T0 + 1, owned=lambda c: c == "c-left") == []
    [back] = reconcile(right, at=T0 + 1, owned=lambda c: c == "c-right")
    assert (back.type, back.conversation_id, back.agent_id) == (ConversationEventType.UNASSIGNED, "c-right", "ana")
    left.apply_event(back)
    assert left.load["ana"] == right.load["ana"] == 1


def test_an_old_assignment_is_not_taken_back_when_capacity_is_lowered() -> None:
    b = book(agent("ana", capacity=2), correction_seconds=60)
    place(b, "c1")
    place(b, "c2", need(customer="x:2"))
    b.apply_agent("ana", agent("ana", capacity=1))
    assert reconcile(b, at=T0 + 3600) == []
    assert b.load["ana"] == 2


def test_decisions_of_a_batch_that_failed_to_publish_are_undone_and_made_again_the_same() -> None:
    b = book(agent("ana", capacity=1))
    log: DecisionLog = []
    first = b.place("c1", need(), T0, "msg-1", log)
    assert b.load["ana"] == 1
    assert b.undo(log) == 1
    assert b.load["ana"] == 0 and "c1" not in b.conversations and "x:1" not in b.last_agent

    again = b.place("c1", need(), T0, "msg-1", log)  # the redelivered batch
    assert again.agent_id == "ana"
    assert [e.event_id for e in again.events] == [e.event_id for e in first.events]


def test_reading_back_our_own_events_counts_them_once() -> None:
    b = book(agent("ana", capacity=3))
    log: DecisionLog = []
    [event] = b.place("c1", need(), T0, "m", log).events
    b.acknowledged(log)
    assert b.apply_event(event) is False
    assert b.load["ana"] == 1


def test_a_replica_that_is_not_the_assigner_queues_new_conversations_for_it() -> None:
    b = book(agent("ana", capacity=5))
    log: DecisionLog = []
    placement = b.place("c1", need(), T0, "m", log, assigner=False)
    assert placement.agent_id is None
    assert placement.queued_reason == "waiting for the assigner (another router replica)"
    assert [e.type for e in placement.events] == [ConversationEventType.UNASSIGNED]
    b.acknowledged(log)
    [event] = reconcile(b, at=T0 + 0.01)  # the assigner serves it on its next round
    assert (event.type, event.agent_id) == (ConversationEventType.ASSIGNED, "ana")
