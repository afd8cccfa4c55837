"""Tracing in the delivery step, without Kafka: off by default (no span, the one shared
header dict), on from the standard OTEL_* variables; on, a record's trace goes out in its
outputs' ``traceparent`` and the next stage continues it; spans carry no message text;
log lines written in a span carry its trace id."""

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_span_id, format_trace_id

from tests.doubles import RecordingBroker
from tests.spans import recorded_spans
from triage_runtime import delivery, tracing
from triage_runtime.delivery import Inbound, Outbound, Rejected, Stage, one_at_a_time
from triage_runtime.logs import JsonFormatter
from triage_schemas.records import SocialMessage

OUT, DLQ = "social.out", "social.dlq"
TEXT = "my order #NW-48213 never arrived, says Ana Pérez"
HANDLE = "ana_perez_1987"
KEY = "x:6120034"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def message(n: int) -> SocialMessage:
    return SocialMessage.model_validate(
        {"message_id": f"m{n}", "conversation_id": KEY, "platform": "x", "channel": "direct_message",
         "direction": "inbound", "author": {"id": "6120034", "handle": HANDLE}, "text": TEXT,
         "permalink": "https://x.com/i/1", "created_at": "2026-11-22T12:00:00Z",
         "received_at": "2026-11-22T12:00:00Z"}
    )  # fmt: skip


def to_message(inbound: Inbound) -> Sequence[Outbound]:
    data = json.loads(inbound.value)
    if data.get("bad"):
        raise Rejected("bad input")
    return [Outbound(OUT, KEY, message(data["n"]))]


def record(n: int, headers: dict[str, str] | None = None, **fields: Any) -> Inbound:
    value = json.dumps({"n": n, "text": TEXT, "handle": HANDLE, **fields}).encode()
    return Inbound(value, key=KEY.encode(), headers=headers or {}, topic="social.in", partition=2, offset=40 + n)


@dataclass
class HeaderBroker(RecordingBroker):
    """Also records the headers of every send."""

    headers: list[dict[str, str] | None] = field(default_factory=list)

    async def publish(
        self, value: bytes, *, topic: str, key: bytes, headers: dict[str, str] | None = None, no_confirm: bool = False
    ) -> Any:
        self.headers.append(headers)
        return await super().publish(value, topic=topic, key=key, headers=headers, no_confirm=no_confirm)


def stage(broker: HeaderBroker, name: str = "test", logger: logging.Logger | None = None) -> Stage:
    return Stage(name, broker, DLQ, logger or logging.getLogger("test"))  # type: ignore[arg-type]


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    with recorded_spans() as exporter:
        yield exporter


def named(finished: Sequence[ReadableSpan], prefix: str) -> list[ReadableSpan]:
    return [span for span in finished if span.name.startswith(prefix)]


# --- on and off -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, []),
        ({"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"}, []),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ["otlp"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "console"}, ["console"]),
        ({"OTEL_TRACES_EXPORTER": "otlp, console"}, ["otlp", "console"]),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, []),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, []),
        ({"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, ["otlp"]),
    ],
)
def test_tracing_is_off_unless_the_otel_variables_ask_for_an_exporter(env: dict[str, str], expected: list[str]) -> None:
    assert tracing.exporters_from_env(env) == expected


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "zipkin"),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "grpc"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}, "grpc"),
    ],
)
def test_an_exporter_or_protocol_it_cannot_honour_stops_the_service(env: dict[str, str], says: str) -> None:
    with pytest.raises(tracing.TracingConfigError, match=says):
        tracing.exporters_from_env(env)


def test_setup_turns_tracing_on_and_off_from_the_environment(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.setup")
    try:
        assert tracing.setup("router", logger, {}) is False
        assert not tracing.enabled()
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://user:secret@127.0.0.1:1"}
        with caplog.at_level(logging.INFO):
            assert tracing.setup("router", logger, env) is True
        assert tracing.enabled()
        [line] = [r for r in caplog.records if r.getMessage() == "tracing_enabled"]
        fields = line.fields  # type: ignore[attr-defined]
        assert fields["exporters"] == ["otlp"]
        assert fields["endpoint"] == "http://127.0.0.1:1/v1/traces"  # no credentials in the log
    finally:
        tracing.shutdown()
    assert not tracing.enabled()


async def test_off_there_is_no_span_and_every_output_shares_the_one_header_dict() -> None:
    assert not tracing.enabled()
    broker = HeaderBroker()
    batch = [record(1, {"traceparent": TRACEPARENT}), record(2, bad=True), record(3)]

    assert tracing.batch("test", batch, logging.getLogger("test")) is None
    await stage(broker).handle(batch, one_at_a_time(to_message))

    assert [s.topic for s in broker.acknowledged] == [OUT, DLQ, OUT]
    assert all(headers is delivery._HEADERS for headers in broker.headers)
    assert delivery._HEADERS == {"content-type": "application/json"}
    assert tracing.current_traceparent() is None


# --- on ---------------------------------------------------------------------------------


async def test_a_records_trace_goes_out_in_its_outputs_headers_and_the_next_stage_continues_it(
    spans: InMemorySpanExporter,
) -> None:
    first, second = HeaderBroker(), HeaderBroker()
    await stage(first, "ingest").handle([record(1)], one_at_a_time(to_message))  # no traceparent: a new trace
    [headers] = first.headers
    assert headers is not None and headers["content-type"] == "application/json"
    version, trace_id, parent_id, flags = headers["traceparent"].split("-")
    assert version == "00" and int(flags, 16) & 1  # sampled

    # the next stage reads the output as Kafka hands it over: headers decoded to str
    [sent] = first.acknowledged
    inbound = Inbound(sent.value, key=sent.key, headers=dict(headers), topic=OUT, partition=0, offset=7)
    await stage(second, "classifier").handle([inbound], one_at_a_time(lambda _: []))

    finished = spans.get_finished_spans()
    assert {format_trace_id(span.context.trace_id) for span in finished} == {trace_id}
    [ingest_consume, classifier_consume] = named(finished, "process ")
    [ingest_decide] = named(finished, "ingest decide")
    [classifier_decide] = named(finished, "classifier decide")
    [send] = named(finished, "send ")
    assert ingest_consume.parent is None  # ingest started the trace
    assert (ingest_consume.kind, send.kind, classifier_consume.kind) == (
        SpanKind.CONSUMER, SpanKind.PRODUCER, SpanKind.CONSUMER,
    )  # fmt: skip
    assert ingest_decide.parent is not None
    assert ingest_decide.parent.span_id == ingest_consume.context.span_id
    assert send.parent is not None and send.parent.span_id == ingest_consume.context.span_id
    assert format_span_id(send.context.span_id) == parent_id  # the header is the publish span's context
    assert classifier_consume.parent is not None and classifier_consume.parent.span_id == send.context.span_id
    assert classifier_decide.parent is not None
    assert classifier_decide.parent.span_id == classifier_consume.context.span_id
    assert dict(classifier_consume.attributes or {}) == {
        "messaging.system": "kafka", "triage.stage": "classifier", "messaging.operation.type": "process",
        "messaging.destination.name": OUT, "messaging.destination.partition.id": "0", "messaging.kafka.offset": 7,
        "messaging.message.body.size": len(sent.value), "triage.outputs": 0, "triage.dead_lettered": False,
    }  # fmt: skip
    assert dict(send.attributes or {}) == {
        "messaging.system": "kafka", "triage.stage": "ingest", "messaging.operation.type": "send",
        "messaging.destination.name": OUT, "triage.record_type": "message",
    }  # fmt: skip


async def test_a_connectors_traceparent_is_continued_and_each_record_has_its_own_spans(
    spans: InMemorySpanExporter,
) -> None:
    broker = HeaderBroker()
    batch = [record(1, {"traceparent": TRACEPARENT}), record(2, bad=True), record(3)]
    await stage(broker, "ingest").handle(batch, one_at_a_time(to_message))

    finished = spans.get_finished_spans()
    consume = named(finished, "process ")
    assert len(consume) == 3 and len(named(finished, "ingest decide")) == 3 and len(named(finished, "send ")) == 3
    assert format_trace_id(consume[0].context.trace_id) == TRACEPARENT.split("-")[1]
    assert consume[0].parent is not None and format_span_id(consume[0].parent.span_id) == TRACEPARENT.split("-")[2]
    assert len({span.context.trace_id for span in consume}) == 3  # the other two started traces of their own
    # every output's header continues the trace of the record it came from, the dead letter's too
    sent_traces = [headers["traceparent"].split("-")[1] for headers in broker.headers if headers]
    assert sent_traces == [format_trace_id(span.context.trace_id) for span in consume]
    assert [broker.acknowledged[i].topic for i in range(3)] == [OUT, DLQ, OUT]
    assert [dict(span.attributes or {})["triage.dead_lettered"] for span in consume] == [False, True, False]
    [rejected] = [s for s in named(finished, "ingest decide") if not s.status.is_ok]
    assert rejected.status.description == "Rejected"  # the type, never the reason


async def test_a_stage_that_decides_the_batch_at_once_gets_a_decide_span_per_record(
    spans: InMemorySpanExporter,
) -> None:
    def whole_batch(batch: Sequence[Inbound]) -> list[delivery.Result]:
        return [to_message(inbound) for inbound in batch]

    await stage(HeaderBroker(), "classifier").handle([record(1), record(2)], whole_batch)
    finished = spans.get_finished_spans()
    decides = named(finished, "classifier decide")
    assert len(decides) == 2
    assert {(dict(s.attributes or {})["triage.batch.records"]) for s in decides} == {2}
    consume = {span.context.span_id for span in named(finished, "process ")}
    assert {span.parent.span_id for span in decides if span.parent is not None} == consume


async def test_no_span_attribute_carries_message_text_author_data_or_keys(spans: InMemorySpanExporter) -> None:
    broker = HeaderBroker()
    await stage(broker, "ingest").handle([record(1), record(2, bad=True)], one_at_a_time(to_message))
    finished = spans.get_finished_spans()
    assert finished
    for span in finished:
        for value in (span.attributes or {}).values():
            for secret in (TEXT, "NW-48213", HANDLE, "6120034", KEY, "bad input"):
                assert secret not in str(value), (span.name, value)
        assert "bad input" not in (span.status.description or "")


async def test_a_failed_publish_marks_the_records_spans(spans: InMemorySpanExporter) -> None:
    broker = HeaderBroker(fail_when=lambda sent: True)
    with pytest.raises(ConnectionError):
        await stage(broker, "router").handle([record(1)], one_at_a_time(to_message))
    finished = spans.get_finished_spans()
    [consume] = named(finished, "process ")
    [send] = named(finished, "send ")
    assert not consume.status.is_ok and not send.status.is_ok
    assert consume.status.description == send.status.description == "SimulatedSendError"


async def test_log_lines_written_in_a_span_carry_its_trace_id(spans: InMemorySpanExporter) -> None:
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, log_record: logging.LogRecord) -> None:
            lines.append(JsonFormatter("ingest").format(log_record))

    logger = logging.getLogger("test.traced")
    logger.addHandler(handler := Capture())
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        await stage(HeaderBroker(), "ingest", logger).handle(
            [record(1, {"traceparent": TRACEPARENT}), record(2, bad=True)], one_at_a_time(to_message)
        )
    finally:
        logger.removeHandler(handler)
    entries = [json.loads(line) for line in lines]
    consume = {format_trace_id(s.context.trace_id): s for s in named(spans.get_finished_spans(), "process ")}
    [letter] = [e for e in entries if e["event"] == "dead_lettered"]
    assert letter["trace_id"] in consume and letter["offset"] == 42
    assert letter["span_id"] == format_span_id(consume[letter["trace_id"]].context.span_id)
    processed = [e for e in entries if e["event"] == "record_processed"]
    assert (processed[0]["offset"], processed[0]["trace_id"]) == (41, TRACEPARENT.split("-")[1])
    assert [e["dead_lettered"] for e in processed] == [False, True]


def test_off_log_lines_have_no_trace_fields() -> None:
    entry = json.loads(JsonFormatter("ingest").format(logging.LogRecord("t", logging.INFO, "", 0, "hi", None, None)))
    assert "trace_id" not in entry and "span_id" not in entry


async def test_the_decision_sees_its_records_span_to_continue_the_trace_later(spans: InMemorySpanExporter) -> None:
    seen: list[str | None] = []

    def remember(inbound: Inbound) -> Sequence[Outbound]:
        seen.append(tracing.current_traceparent())
        return []

    await stage(HeaderBroker(), "sla-monitor").handle(
        [record(1, {"traceparent": TRACEPARENT})], one_at_a_time(remember)
    )
    [decide] = named(spans.get_finished_spans(), "sla-monitor decide")
    [traceparent] = seen
    assert traceparent is not None and traceparent.split("-")[1:3] == [
        format_trace_id(decide.context.trace_id), format_span_id(decide.context.span_id)
    ]  # fmt: skip

    # later, outside any batch: a record sent with that traceparent continues the trace
    sends = tracing.sends("sla-monitor")
    assert sends is not None
    [(name, value)] = sends.start("social.sla-alerts", traceparent, "sla_alert", {"triage.alert.kind": "breach"})
    sends.end()
    [alert] = named(spans.get_finished_spans(), "send social.sla-alerts")
    assert name == "traceparent" and value.decode().split("-")[1] == format_trace_id(decide.context.trace_id)
    assert alert.kind is SpanKind.PRODUCER and alert.parent is not None
    assert alert.parent.span_id == decide.context.span_id


def test_off_nothing_is_sent_outside_the_delivery_step_either() -> None:
    assert tracing.sends("sla-monitor") is None
    assert tracing.deciding() is None


async def test_an_unsampled_trace_travels_on_without_spans() -> None:
    unsampled = TRACEPARENT[:-2] + "00"
    seen: list[str | None] = []

    def remember(inbound: Inbound) -> Sequence[Outbound]:
        seen.append(tracing.current_traceparent())
        return to_message(inbound)

    # the SDK's default sampler is parent-based: a record whose trace was not sampled stays unsampled
    with recorded_spans() as exporter:
        broker = HeaderBroker()
        await stage(broker, "router").handle([record(1, {"traceparent": unsampled})], one_at_a_time(remember))
    assert exporter.get_finished_spans() == ()
    [headers] = broker.headers
    assert headers is not None and headers["traceparent"].split("-")[1::2] == [TRACEPARENT.split("-")[1], "00"]
    assert seen[0] is not None and seen[0].split("-")[1] == TRACEPARENT.split("-")[1]
