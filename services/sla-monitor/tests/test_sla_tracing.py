"""A clock keeps the trace of the routed message that started it, across a restart, and
its alerts continue that trace (tracing on) or carry no header at all (off)."""

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_span_id, format_trace_id

from tests.spans import recorded_spans
from triage_runtime.logs import JsonFormatter
from triage_schemas.enums import AlertKind
from triage_schemas.policy import ClockPolicy
from triage_sla_monitor import state
from triage_sla_monitor.clock import Clock, Facts, Subject
from triage_sla_monitor.config import SlaMonitorSettings
from triage_sla_monitor.monitor import Monitor
from triage_sla_monitor.recovery import ClockState
from triage_sla_monitor.timers import AlertTimer

FIRST = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
SECOND = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
T0 = 1_795_341_600.0  # 2026-11-22: alerts refuse times outside 2000-2100


def subject(target: int = 600) -> Subject:
    return Subject("support", "P2", "payment_issue", "support-lead", 1, "x", "direct_message", target)


class TransactionalProducer:
    """Records every send's arguments, in committed transactions."""

    def __init__(self) -> None:
        self.sends: list[dict[str, Any]] = []

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        yield

    async def send(self, topic: str, key: bytes, value: bytes | None, **options: Any) -> Any:
        self.sends.append({"topic": topic, "key": key, **options})


def timer() -> tuple[Monitor, AlertTimer, TransactionalProducer]:
    monitor = Monitor(SlaMonitorSettings(), ClockPolicy(), logging.getLogger("test"))
    producer = TransactionalProducer()
    monitor.producer = producer
    monitor.firing = True
    return monitor, AlertTimer(monitor, ClockState(monitor)), producer


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    with recorded_spans() as exporter:
        yield exporter


def test_the_message_that_starts_a_clock_gives_it_its_trace() -> None:
    monitor, _, _ = timer()
    store = monitor.store
    clock, _ = store.customer_message("c1", 1000.0, subject(), traceparent=FIRST)
    store.customer_message("c1", 1010.0, subject(), traceparent=SECOND)  # the same clock runs on
    assert clock.traceparent == FIRST
    assert {a.traceparent for a in store.fire(2000.0)} == {FIRST}

    store.event("c1", Facts.REPLY, 2100.0)
    store.customer_message("c1", 2200.0, subject(), traceparent=SECOND)  # a next-response clock: its own message
    assert clock.traceparent == SECOND
    store.customer_message("c2", 1000.0, subject())  # tracing off: nothing kept
    assert store.clocks["c2"].traceparent is None


def test_the_trace_survives_a_restart_and_older_state_loads_without_one() -> None:
    clock = Clock("c1", subject=subject(), number=2, started_at=1000.0, opened_at=1000.0, traceparent=FIRST)
    assert state.load("c1", state.dump(clock)).traceparent == FIRST

    untraced = Clock("c1", subject=subject(), number=2, started_at=1000.0, opened_at=1000.0)
    value = state.dump(untraced)
    assert "traceparent" not in json.loads(value)  # tracing off: the state value as before
    assert state.load("c1", value).traceparent is None
    assert state.load("c1", value.replace(b'"v":2', b'"v":1')).traceparent is None


async def test_off_an_alert_is_sent_without_headers() -> None:
    monitor, alerts, producer = timer()
    monitor.store.customer_message("c1", T0, subject(), traceparent=None)
    sent = await alerts.fire_due(T0 + 3 * 600)
    assert [a.kind for a in sent] == [AlertKind.WARNING, AlertKind.BREACH, AlertKind.ESCALATION]
    assert [s for s in producer.sends if s["topic"] == monitor.settings.topics.sla_alerts]
    assert all("headers" not in s for s in producer.sends)


class JsonLines(logging.Handler):
    """The service's log lines as they are written (the trace id is read when a line is formatted)."""

    def __init__(self) -> None:
        super().__init__()
        self.formatter_ = JsonFormatter("sla-monitor")
        self.entries: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.entries.append(json.loads(self.formatter_.format(record)))


async def test_on_each_alert_continues_the_trace_of_its_clock(spans: InMemorySpanExporter) -> None:
    monitor, alerts, producer = timer()
    monitor.store.customer_message("x:6120034", T0, subject(), traceparent=FIRST)
    lines = JsonLines()
    monitor.logger.addHandler(lines)
    monitor.logger.setLevel(logging.INFO)
    try:
        sent = await alerts.fire_due(T0 + 600)
    finally:
        monitor.logger.removeHandler(lines)
    assert [a.kind for a in sent] == [AlertKind.WARNING, AlertKind.BREACH]

    alert_sends = [s for s in producer.sends if s["topic"] == monitor.settings.topics.sla_alerts]
    finished = spans.get_finished_spans()
    assert len(alert_sends) == len(finished) == 2
    for send, span in zip(alert_sends, finished, strict=True):
        [(name, value)] = send["headers"]
        _, trace_id, span_id, _ = value.decode().split("-")
        assert name == "traceparent" and trace_id == format_trace_id(span.context.trace_id) == FIRST.split("-")[1]
        assert span_id == format_span_id(span.context.span_id)
        assert span.kind is SpanKind.PRODUCER and span.parent is not None
        assert format_span_id(span.parent.span_id) == FIRST.split("-")[2]
        attributes = dict(span.attributes or {})
        assert attributes["triage.alert.kind"] in ("warning", "breach")
        assert "6120034" not in json.dumps(attributes)  # no conversation or author ids
    # each alert's log line carries its trace and span ids
    logged = [(e["kind"], e["trace_id"], e["span_id"]) for e in lines.entries if e["event"] == "sla_alert"]
    assert logged == [
        (dict(span.attributes or {})["triage.alert.kind"], FIRST.split("-")[1], format_span_id(span.context.span_id))
        for span in finished
    ]
