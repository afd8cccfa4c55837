"""Every query of the Grafana dashboard (deploy/monitoring/dashboards/social-triage.json)
returns data from a real Prometheus scraping the four services, after the pipeline has
handled two waves of platform events: answered messages in three lanes on four
platforms, an unanswered P1 that breaches, and a record ingest cannot read.

Two waves, because a counter or histogram series that Prometheus first sees after its
first increment shows no increase for it: the second wave is what the dashboard's
rolling-window panels (percentiles, breaches, dead letters) can see."""

import asyncio
import contextlib
import json
import math
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from tests.conftest import ServiceFactory
from tests.e2e.conftest import Prometheus, StartPrometheus, policy_with_targets, start_pipeline
from tests.harness import REPO, KafkaHarness, json_lines
from triage_local.payloads import INBOUND, Customer
from triage_schemas import ConversationEvent, ConversationEventType, RawEnvelope, RoutedMessage

pytestmark = pytest.mark.kafka

DASHBOARD = REPO / "deploy" / "monitoring" / "dashboards" / "social-triage.json"
# What Grafana would put in for its own variables; the dashboard's variables take their
# "All" value (query variables) or their default (custom ones).
GRAFANA_VARIABLES = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h"}
P1_TARGET = 4
TARGETS = {"account_compromise": P1_TARGET, "order_shipping": 8, "payment_issue": 8, "feedback": 8, "sales_lead": 8}
# kind, text, reply after (seconds; None: never answered)
WAVE = [
    ("messenger_dm", "my order #NW-48213 never arrived, tracking hasn't moved in 2 weeks", 1.5),
    ("whatsapp", "I was charged twice for the same order, please refund one of the payments", 3.0),
    ("instagram_comment", "obsessed with the new linen shirts 😍 the sage one is perfect, thank you!", 2.0),
    ("telegram", "hi, we'd like a quote for 300 units for our hotel chain, what's your bulk pricing?", 5.0),
    ("x_dm", "someone hacked my account, changed my email and password and placed orders, I didn't do this", None),
]
ANSWERED = sum(1 for *_, after in WAVE if after is not None)


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panels(panel) if "panels" in panel else ()


def variable_values(dashboard: dict[str, Any]) -> dict[str, str]:
    values = dict(GRAFANA_VARIABLES)
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query" and variable.get("includeAll"):
            values[variable["name"]] = variable.get("allValue") or ".*"
        elif variable["type"] == "custom":
            values[variable["name"]] = variable["current"]["value"]
    return values


def expand(expr: str, values: dict[str, str]) -> str:
    """``expr`` with ``$name`` and ``${name}`` (``${name:format}``) replaced; an unknown name fails."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in values, f"dashboard query uses ${name}, which the test cannot fill in: {expr}"
        return values[name]

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", value, expr)


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title and refId, PromQL) of every visible target, variables filled in."""
    dashboard = json.loads(DASHBOARD.read_text())
    values = variable_values(dashboard)
    queries = []
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        targets = [t for t in panel.get("targets", []) if not t.get("hide")]
        assert targets, f"panel {panel['title']!r} has no query"
        queries += [(f"{panel['title']} [{t['refId']}]", expand(t["expr"], values)) for t in targets]
    return queries


def finite(result: list[dict[str, Any]]) -> bool:
    return any(math.isfinite(float(sample["value"][1])) for sample in result)


async def wait_for_at_least(scraper: Prometheus, promql: str, minimum: float, timeout: float = 45.0) -> None:
    """Until the scalar ``promql`` reaches ``minimum`` (fails with the last value seen)."""
    last = math.nan
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            while not last >= minimum:
                result = await scraper.query(promql)
                last = float(result[0]["value"][1]) if result else math.nan
                await asyncio.sleep(0.5)
            return
    raise AssertionError(f"{promql} is {last} after {timeout:.0f} s, expected at least {minimum}")


async def wave(kafka: KafkaHarness, reader: AIOKafkaConsumer, number: int) -> None:
    """One wave of platform events (``reader`` reads the routed topic on from the last
    wave); the answerable ones are answered as a help desk does."""
    topics = kafka.topics
    t0 = datetime.fromtimestamp(math.floor(datetime.now(UTC).timestamp()), UTC)
    customers = [Customer(f"{9_300_000 + 100 * number + n}", f"dash_{number}_{n}", "Dash Person", 10) for n in range(5)]
    for (kind, text, _), customer in zip(WAVE, customers, strict=True):
        event = INBOUND[kind](secrets.token_hex(8), customer, text, t0)
        envelope = RawEnvelope(platform=event.platform, received_at=t0, payload=event.payload, source="e2e")
        await kafka.produce(topics.raw, envelope, key=f"{event.platform.value}:{customer.id}")
    await kafka.produce(topics.raw, b"{not json", key=f"e2e:broken-{number}")  # a dead letter at ingest

    routed = [RoutedMessage.model_validate(r) for r in json_lines(await kafka.consume(topics.routed, 5, 90, reader))]
    by_author = {m.author.id: m for m in routed}
    for (_, text, after), customer in zip(WAVE, customers, strict=True):
        if after is None:
            continue
        message = by_author[customer.id]
        assert message.routing.first_response_target_seconds == 8, text
        await kafka.produce(
            topics.conversation_events,
            ConversationEvent(
                event_id=f"dash-{number}-{customer.id}", conversation_id=message.conversation_id,
                type=ConversationEventType.AGENT_REPLIED, at=t0 + timedelta(seconds=after), actor="agent-7",
            ),
            key=message.conversation_id,
        )  # fmt: skip


async def test_every_dashboard_query_returns_data_from_the_pipelines_prometheus(
    kafka: KafkaHarness, services: ServiceFactory, prometheus: StartPrometheus, tmp_path: Path
) -> None:
    queries = dashboard_queries()
    pipeline = await start_pipeline(services, policy_with_targets(tmp_path / "policy.yaml", TARGETS))
    scraper = await prometheus(pipeline)

    first_responses = "sum(triage_sla_first_response_seconds_count)"
    breaches = 'sum(triage_sla_alerts_total{kind="breach"})'
    dead_letters = 'sum(triage_stage_dead_letters_total{stage="ingest"})'
    reader = await kafka.consumer(kafka.topics.routed)
    for number in range(2):
        await wave(kafka, reader, number)
        # The next wave starts once Prometheus has seen this one's increments.
        await wait_for_at_least(scraper, first_responses, ANSWERED * (number + 1))
        await wait_for_at_least(scraper, breaches, number + 1)
        await wait_for_at_least(scraper, dead_letters, number + 1)

    answers: dict[str, list[dict[str, Any]]] = {}
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(60):
            while len(answers) < len(queries) or not all(finite(r) for r in answers.values()):
                for name, promql in queries:
                    answers[name] = await scraper.query(promql)
                await asyncio.sleep(1.0)
    missing = {name: promql for name, promql in queries if not finite(answers.get(name, []))}
    assert missing == {}, "dashboard queries without data:\n" + "\n".join(f"{n}: {q}" for n, q in missing.items())

    # A few figures the pipeline's events pin down: they are the panels' subject, not just their presence.
    def series(title: str, *labels: str) -> dict[tuple[str, ...], float]:
        return {tuple(r["metric"].get(label, "") for label in labels): float(r["value"][1]) for r in answers[title]}

    median_by_lane = series("First response by lane: median and p90 [A]", "lane")
    assert {lane for (lane,), v in median_by_lane.items() if math.isfinite(v)} == {"support", "community", "sales"}
    assert series("Breaches by lane and priority (last $window) [A]", "lane", "priority")["support", "P1"] > 0
    assert series("Dead letters per stage (last $window) [A]", "stage")["ingest",] > 0
    assert series("Unanswered by lane [A]", "lane")["support",] >= 2  # the two hacked accounts
