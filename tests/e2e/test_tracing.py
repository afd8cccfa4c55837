"""One message's path is one trace: the four services, each its own process on the real
broker, with tracing turned on by the standard OTEL_* variables, export OTLP/HTTP to a
receiver in this test; the raw message's trace holds the spans of ingest, classifier,
router and sla-monitor in that order, and of the alerts its clock raised later; the
same trace id is in each service's log lines, and no span attribute holds the text."""

import asyncio
import contextlib
import itertools
import json
import math
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from tests.conftest import ServiceFactory
from tests.e2e.conftest import STAGES, policy_with_targets, start_pipeline
from tests.harness import KafkaHarness
from triage_local.payloads import BRAND_IDS, INBOUND, Customer
from triage_schemas import RawEnvelope

pytestmark = pytest.mark.kafka

TEXT = "someone hacked my account, changed my email and password and placed orders, I didn't do this"
P1_TARGET = 2  # seconds: warning, breach and escalation fall due within 4 s
CONSUMER, PRODUCER = 5, 4  # OTLP's SpanKind numbers


@dataclass(frozen=True)
class Span:
    service: str
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: int
    start: int
    attributes: dict[str, Any]


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    return getattr(value, which) if which else None


class OtlpReceiver:
    """An OTLP/HTTP endpoint on a free loopback port: POST /v1/traces with a protobuf
    ``ExportTraceServiceRequest``, as the services' exporter sends it."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.requests = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != "/v1/traces" or self.headers.get("Content-Type") != "application/x-protobuf":
                    self.send_error(404)
                    return
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver.add(request)
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, request: ExportTraceServiceRequest) -> None:
        spans = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    spans.append(
                        Span(
                            service=str(resource.get("service.name")), trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(), parent_id=span.parent_span_id.hex(), name=span.name,
                            kind=span.kind, start=span.start_time_unix_nano,
                            attributes={a.key: _value(a.value) for a in span.attributes},
                        )
                    )  # fmt: skip
        with self.lock:
            self.requests += 1
            self.spans.extend(spans)

    def trace(self, trace_id: str) -> list[Span]:
        with self.lock:
            return sorted((s for s in self.spans if s.trace_id == trace_id), key=lambda s: s.start)

    def all(self) -> list[Span]:
        with self.lock:
            return list(self.spans)


@pytest.fixture
def otlp() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    receiver.thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def traceparent_of(headers: Any) -> tuple[str, str]:
    """(trace id, span id) of a Kafka record's ``traceparent`` header."""
    values = {name: raw.decode() for name, raw in headers or ()}
    assert "traceparent" in values, f"no traceparent in {sorted(values)}"
    _, trace_id, span_id, _ = values["traceparent"].split("-")
    return trace_id, span_id


async def test_one_messages_path_through_the_four_services_is_one_trace_and_its_id_is_in_their_logs(
    kafka: KafkaHarness, services: ServiceFactory, otlp: OtlpReceiver, tmp_path: Path
) -> None:
    topics = kafka.topics
    policy = policy_with_targets(tmp_path / "policy.yaml", {"account_compromise": P1_TARGET})
    brands = {platform.value: [account] for platform, account in BRAND_IDS.items()}
    tracing_env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.url,  # no OTEL_TRACES_EXPORTER: the endpoint turns tracing on
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    extra = {stage: {**tracing_env, f"TRIAGE_{stage.upper().replace('-', '_')}_LOG_LEVEL": "DEBUG"} for stage in STAGES}
    extra["ingest"]["TRIAGE_INGEST_BRAND_ACCOUNT_IDS"] = json.dumps(brands)
    await start_pipeline(services, policy, extra)
    routed_reader = await kafka.consumer(topics.routed)
    alerts_reader = await kafka.consumer(topics.sla_alerts, read_committed=True)

    t0 = datetime.fromtimestamp(math.floor(datetime.now(UTC).timestamp()), UTC)
    customer = Customer("9200001", "traced_customer", "Traced Person", 50)
    event = INBOUND["x_dm"](secrets.token_hex(8), customer, TEXT, t0)
    envelope = RawEnvelope(platform=event.platform, received_at=t0, payload=event.payload, source="e2e")
    await kafka.produce(topics.raw, envelope, key=f"{event.platform.value}:{customer.id}")  # no traceparent

    # The routed record and the alerts its clock raised carry the same trace in their headers.
    [routed] = await kafka.consume(topics.routed, 1, 90, routed_reader)
    trace_id, _ = traceparent_of(routed.headers)
    alerts = await kafka.consume(topics.sla_alerts, 3, 60, alerts_reader)
    assert [json.loads(a.value)["kind"] for a in alerts] == ["warning", "breach", "escalation"]
    assert {traceparent_of(a.headers)[0] for a in alerts} == {trace_id}

    spans = await wait_for_trace(otlp, trace_id, topics.sla_alerts)
    by_id = {span.span_id: span for span in spans}
    services_in_trace = {span.service for span in spans}
    assert services_in_trace == {f"triage-{stage}" for stage in STAGES}

    # consume spans of the four stages, in the pipeline's order, each a child of the one before's publish
    hops = [(topics.raw, "ingest"), (topics.messages, "classifier"), (topics.classified, "router"),
            (topics.routed, "sla-monitor")]  # fmt: skip
    consumed = [next(s for s in spans if (s.name, s.service) == (f"process {topic}", f"triage-{stage}"))
                for topic, stage in hops]  # fmt: skip
    assert [span.start for span in consumed] == sorted(span.start for span in consumed)
    assert [span.service for span in sorted(consumed, key=lambda s: s.start)] == [f"triage-{s}" for s in STAGES]
    assert all(span.kind == CONSUMER for span in consumed)
    assert consumed[0].parent_id == ""  # ingest started the trace: the raw record carried none
    for before, after in itertools.pairwise(consumed):
        publish = by_id[after.parent_id]
        assert (publish.kind, publish.service, by_id[publish.parent_id]) == (PRODUCER, before.service, before)
        assert publish.name == f"send {after.attributes['messaging.destination.name']}"
    for span, (topic, stage) in zip(consumed, hops, strict=True):
        assert span.attributes["messaging.system"] == "kafka"
        assert span.attributes["messaging.destination.name"] == topic
        assert span.attributes["triage.stage"] == stage
        assert {"messaging.destination.partition.id", "messaging.kafka.offset"} <= set(span.attributes)
    for stage in STAGES:
        assert any(s.name == f"{stage} decide" and s.service == f"triage-{stage}" for s in spans), stage
    # every span hangs from the trace's root
    assert all(span.parent_id in by_id for span in spans if span is not consumed[0])

    # the alerts, sent by the SLA monitor's timer later, continue the routed message's trace
    alert_spans = [s for s in spans if s.name == f"send {topics.sla_alerts}"]
    assert sorted(s.attributes["triage.alert.kind"] for s in alert_spans) == ["breach", "escalation", "warning"]
    assert all(s.service == "triage-sla-monitor" and s.start > consumed[-1].start for s in alert_spans)
    assert {traceparent_of(a.headers)[1] for a in alerts} == {s.span_id for s in alert_spans}

    # the trace id is in every stage's log lines; the alerts' lines at INFO too
    logs = {stage: log_entries(services, stage) for stage in STAGES}
    for stage, entries in logs.items():
        traced = [e for e in entries if e.get("trace_id") == trace_id]
        assert traced, f"no {stage} log line carries the trace id"
        assert {e["span_id"] for e in traced} <= set(by_id), stage
    processed = [e for e in logs["router"] if e.get("event") == "record_processed" and e.get("trace_id") == trace_id]
    assert topics.classified in [e["topic"] for e in processed]  # one line per record, at DEBUG
    alert_lines = [e for e in logs["sla-monitor"] if e.get("event") == "sla_alert" and e.get("trace_id") == trace_id]
    assert sorted(e["kind"] for e in alert_lines) == ["breach", "escalation", "warning"]

    # no span of any trace holds the message's text or the customer's data
    secrets_ = (TEXT, "hacked my account", customer.id, customer.handle, customer.name)
    for span in otlp.all():
        for value in span.attributes.values():
            assert not any(s in str(value) for s in secrets_), (span.service, span.name, value)


async def wait_for_trace(otlp: OtlpReceiver, trace_id: str, alerts_topic: str, timeout: float = 30.0) -> list[Span]:
    """The trace once every service has exported its spans of it (the alerts' three too)."""
    deadline = time.monotonic() + timeout
    spans: list[Span] = []
    while time.monotonic() < deadline:
        spans = otlp.trace(trace_id)
        services = {span.service for span in spans}
        alerts = [s for s in spans if s.name == f"send {alerts_topic}"]
        if services >= {f"triage-{stage}" for stage in STAGES} and len(alerts) >= 3:
            return spans
        await asyncio.sleep(0.2)
    raise AssertionError(
        f"trace {trace_id} incomplete after {timeout}s ({otlp.requests} exports): "
        f"{sorted((s.service, s.name) for s in spans)}"
    )


def log_entries(services: ServiceFactory, stage: str) -> list[dict[str, Any]]:
    """The JSON lines of a stage's log file."""
    [process] = [p for p in services.started if p.service == stage]
    assert process.log_path is not None
    entries = []
    for line in process.log_path.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if isinstance(entry, dict):
                entries.append(entry)
    return entries
