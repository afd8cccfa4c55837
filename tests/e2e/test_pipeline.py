"""Raw platform events in, routed messages, conversation events and SLA alerts out,
through the four services as separate processes on the real broker; a real Prometheus
scrapes them all and answers the headline KPI, the median first response by lane."""

import asyncio
import contextlib
import json
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import ServiceFactory
from tests.e2e.conftest import STAGES, Prometheus, StartPrometheus, policy_with_targets, start_pipeline
from tests.harness import KafkaHarness, json_lines
from triage_local.payloads import BRAND_IDS, ECHO, INBOUND, Customer
from triage_schemas import ConversationEvent, ConversationEventType, RawEnvelope, RoutedMessage, SlaAlert

pytestmark = pytest.mark.kafka

BUCKETS = (1.0, 2.0, 4.0, 8.0, 16.0)
ANSWERED_TARGET, P1_TARGET = 8, 4
TARGETS = {
    "account_compromise": P1_TARGET,
    "order_shipping": ANSWERED_TARGET,
    "payment_issue": ANSWERED_TARGET,
    "feedback": ANSWERED_TARGET,
    "sales_lead": ANSWERED_TARGET,
}


@dataclass(frozen=True)
class Turn:
    kind: str
    text: str
    issue_type: str
    lane: str
    priority: str
    reply_after: float | None  # seconds after the customer's message; None: never answered


TIMELINE = [
    Turn("messenger_dm", "my order #NW-48213 never arrived, tracking hasn't moved in 2 weeks",
         "order_shipping", "support", "P2", 1.5),
    Turn("whatsapp", "I was charged twice for the same order, please refund one of the payments",
         "payment_issue", "support", "P2", 3.0),
    Turn("instagram_comment", "obsessed with the new linen shirts 😍 the sage one is perfect, thank you!",
         "feedback", "community", "P3", 2.0),
    Turn("telegram", "hi, we'd like a quote for 300 units for our hotel chain, what's your bulk pricing?",
         "sales_lead", "sales", "P3", 5.0),
    Turn("x_dm", "someone hacked my account, changed my email and password and placed orders, I didn't do this",
         "account_compromise", "support", "P1", None),
]  # fmt: skip


def expected_quantile(q: float, observations: list[float], buckets: tuple[float, ...]) -> float:
    """What Prometheus's histogram_quantile computes from these observations and buckets."""
    rank = q * len(observations)
    previous_bound, previous_count = 0.0, 0
    for bound in buckets:
        count = sum(1 for o in observations if o <= bound)
        if count >= rank:
            return previous_bound + (bound - previous_bound) * (rank - previous_count) / (count - previous_count)
        previous_bound, previous_count = bound, count
    return previous_bound


async def test_platform_events_come_out_routed_answered_and_alerted_and_prometheus_sees_the_kpi(
    kafka: KafkaHarness, services: ServiceFactory, prometheus: StartPrometheus, tmp_path: Path
) -> None:
    topics = kafka.topics
    policy = policy_with_targets(tmp_path / "policy.yaml", TARGETS)
    brands = {platform.value: [account] for platform, account in BRAND_IDS.items()}
    pipeline = await start_pipeline(
        services,
        policy,
        {
            "ingest": {"TRIAGE_INGEST_BRAND_ACCOUNT_IDS": json.dumps(brands)},
            "sla-monitor": {"TRIAGE_SLA_MONITOR_HISTOGRAM_BUCKETS_SECONDS": json.dumps(BUCKETS)},
        },
    )
    scraper = await prometheus(pipeline)
    routed_reader = await kafka.consumer(topics.routed)

    t0 = datetime.fromtimestamp(math.floor(datetime.now(UTC).timestamp()), UTC)  # WhatsApp and Telegram count seconds
    customers = [Customer(f"{9_100_000 + n}", f"e2e_{n}", "E2E Person", 50) for n in range(len(TIMELINE))]
    for turn, customer in zip(TIMELINE, customers, strict=True):
        event = INBOUND[turn.kind](secrets.token_hex(8), customer, turn.text, t0)
        envelope = RawEnvelope(platform=event.platform, received_at=t0, payload=event.payload, source="e2e")
        await kafka.produce(topics.raw, envelope, key=f"{event.platform.value}:{customer.id}")

    routed = [
        RoutedMessage.model_validate(r)
        for r in json_lines(await kafka.consume(topics.routed, len(TIMELINE), 90, routed_reader))
    ]
    by_author = {m.author.id: m for m in routed}
    assert set(by_author) == {customer.id for customer in customers}

    # The brand answers: by echo where the platform sends the brand's own messages back,
    # otherwise the way a help desk does, with an agent_replied event.
    first_responses: dict[str, list[float]] = {}
    for turn, customer in zip(TIMELINE, customers, strict=True):
        message = by_author[customer.id]
        c = message.classification
        assert (c.issue_type, c.lane, c.priority) == (turn.issue_type, turn.lane, turn.priority), turn.text
        assert message.routing.first_response_target_seconds == TARGETS[turn.issue_type]
        assert message.routing.first_response_due_at == t0 + timedelta(seconds=TARGETS[turn.issue_type])
        assert message.routing.policy_version == "e2e"
        if turn.reply_after is None:
            continue
        first_responses.setdefault(turn.lane, []).append(turn.reply_after)
        replied_at = t0 + timedelta(seconds=turn.reply_after)
        if turn.kind in ECHO:
            echo = ECHO[turn.kind](secrets.token_hex(8), customer, "on it, sorry for the wait", replied_at)
            await kafka.produce(
                topics.raw, RawEnvelope(platform=echo.platform, received_at=replied_at, payload=echo.payload)
            )
        else:
            await kafka.produce(
                topics.conversation_events,
                ConversationEvent(
                    event_id=f"desk-{customer.id}", conversation_id=message.conversation_id,
                    type=ConversationEventType.AGENT_REPLIED, at=replied_at, actor="agent-7",
                ),
                key=message.conversation_id,
            )  # fmt: skip

    owner_of = {m.classification.issue_type.value: (m.routing.owner, int(m.routing.tier)) for m in routed}
    assert owner_of["account_compromise"] == ("security-oncall", 1)
    assert owner_of["order_shipping"][0] == "logistics"
    assert owner_of["payment_issue"][0] == "support-lead"

    # Ingest turned the echo into the conversation's agent_replied event.
    echoes = [
        e for e in json_lines(await kafka.consume(topics.conversation_events, 4, 30)) if e.get("actor") != "agent-7"
    ]
    messenger = next(m for m in routed if m.platform.value == "messenger")
    assert [(e["conversation_id"], e["type"]) for e in echoes] == [(messenger.conversation_id, "agent_replied")]

    # Only the unanswered P1 alerts: warning, breach, escalation, once each, on time.
    alerts = [SlaAlert.model_validate(a) for a in json_lines(await kafka.consume(topics.sla_alerts, 3, 60))]
    hacked = next(m for m in routed if m.classification.issue_type.value == "account_compromise")
    assert [(a.kind.value, a.conversation_id) for a in alerts] == [
        ("warning", hacked.conversation_id), ("breach", hacked.conversation_id), ("escalation", hacked.conversation_id)
    ]  # fmt: skip
    for alert, fraction in zip(alerts, (0.8, 1.0, 2.0), strict=True):
        assert (alert.owner, alert.lane, alert.priority) == ("security-oncall", "support", "P1")
        due = fraction * P1_TARGET
        assert due <= (alert.at - t0).total_seconds() < due + 2.0
    assert alerts[2].tier == 2  # a breach still unanswered at twice its target goes to leadership
    late = await kafka.drain(await kafka.consumer(topics.sla_alerts))
    assert len(late) == 3, "an answered conversation raised an alert"

    # Prometheus scraped all four services and computes the median first response by lane.
    assert await wait_for_targets(scraper) == {stage: "up" for stage in pipeline}
    expected = {lane: expected_quantile(0.5, seconds, BUCKETS) for lane, seconds in first_responses.items()}
    medians = await wait_for_medians(scraper, expected)
    assert medians == pytest.approx(expected, abs=1e-6)
    # Nothing was dead-lettered: the dead-letter topic is empty, and Prometheus, which has
    # every stage's record counters (so an empty answer is not a missed scrape), agrees.
    letters = json_lines(await kafka.drain(await kafka.consumer(topics.dlq)))
    assert [(d["stage"], d["error"]) for d in letters] == []
    consumed = await scraper.query("sum by (stage) (triage_stage_records_in_total)")
    assert {r["metric"]["stage"]: float(r["value"][1]) > 0 for r in consumed} == dict.fromkeys(STAGES, True)
    dead = await scraper.query("sum by (stage) (triage_stage_dead_letters_total)")
    assert {r["metric"]["stage"]: float(r["value"][1]) for r in dead if float(r["value"][1])} == {}


KPI = "histogram_quantile(0.5, sum by (lane, le) (triage_sla_first_response_seconds_bucket))"


async def wait_for_medians(scraper: Prometheus, expected: dict[str, float], timeout: float = 30.0) -> dict[str, float]:
    """The medians once Prometheus's scrapes have caught up with the timeline (or the last seen)."""
    medians: dict[str, float] = {}
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            while medians != pytest.approx(expected, abs=1e-6):
                results = await scraper.query(KPI)
                medians = {r["metric"]["lane"]: float(r["value"][1]) for r in results}
                medians = {lane: value for lane, value in medians.items() if not math.isnan(value)}
                await asyncio.sleep(0.5)  # scrapes are a second apart
    return medians


async def wait_for_targets(scraper: Prometheus, timeout: float = 30.0) -> dict[str, str]:
    health: dict[str, str] = {}
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            while not health or any(h != "up" for h in health.values()):
                health = await scraper.targets_up()
                await asyncio.sleep(0.5)
    return health
