"""Tracing: OpenTelemetry spans for each record a stage consumes, decides and publishes,
with the W3C trace context carried in the Kafka headers, so one message's path from
``social.raw`` to its routed record and its alerts is one trace.

Off by default. ``setup`` (run by ``Service.create``) reads the standard ``OTEL_*``
variables once, at start:

* ``OTEL_SDK_DISABLED=true`` turns tracing off, whatever else is set;
* ``OTEL_TRACES_EXPORTER`` (comma-separated) names the exporters: ``otlp`` (OTLP over
  HTTP/protobuf, the only OTLP protocol shipped), ``console`` (spans as JSON on stdout,
  for a look by hand) or ``none`` (off);
* unset, tracing is on when an OTLP endpoint is set (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``
  or ``OTEL_EXPORTER_OTLP_ENDPOINT``) and off otherwise. The OTel default of ``otlp`` to
  ``localhost:4318`` is not assumed: a service with no collector configured traces nothing.

Everything else is the SDK's own reading of the environment: the endpoint, headers,
timeout and compression (``OTEL_EXPORTER_OTLP_*``), the sampler (``OTEL_TRACES_SAMPLER``,
``OTEL_TRACES_SAMPLER_ARG``; default: parent-based, always on), the batch processor
(``OTEL_BSP_*``), the resource (``OTEL_SERVICE_NAME``, default ``triage-<service>``;
``OTEL_RESOURCE_ATTRIBUTES``).

Spans, per consumed record (see ``BatchTrace``): ``process <topic>`` (CONSUMER), the child
of the traceparent in the record's headers or a new trace's root; ``<stage> decide``
around the stage's decision for that record; ``send <topic>`` (PRODUCER) per output,
whose context goes out as that output's ``traceparent`` header. Attributes are the
messaging ones (system, topic, partition, offset, sizes), the stage, record types and
counts: never message text, keys (conversation ids carry platform user ids), author data
or rejection reasons. Only the W3C ``traceparent``/``tracestate`` are read and written:
no baggage crosses a topic.

Off, the delivery step asks ``batch`` once per batch and gets ``None``: no span objects,
no header parsing, the one shared header dict per output as before.
"""

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from triage_runtime.logs import log_event

T = TypeVar("T")

EXPORTERS = ("otlp", "console")
PROTOCOL = "http/protobuf"

_PROPAGATOR = TraceContextTextMapPropagator()
_tracer: Tracer | None = None
_provider: Any = None  # the SDK's TracerProvider while tracing is on

# The batch whose decision is running: ``one_at_a_time`` opens each record's decide span in it.
_DECIDING: ContextVar["BatchTrace | None"] = ContextVar("triage_deciding", default=None)


class TracingConfigError(ValueError):
    """The OTEL_* variables ask for something this runtime cannot do."""


def exporters_from_env(environ: Mapping[str, str] | None = None) -> list[str]:
    """The exporters the environment asks for; empty means tracing is off (see the module docstring)."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    names = [name.strip().lower() for name in env.get("OTEL_TRACES_EXPORTER", "").split(",") if name.strip()]
    if not names:
        endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        names = ["otlp"] if endpoint else []
    if "none" in names:
        return []
    unknown = sorted(set(names) - set(EXPORTERS))
    if unknown:
        raise TracingConfigError(
            f"OTEL_TRACES_EXPORTER names {', '.join(unknown)}: this runtime exports with otlp, console or none"
        )
    protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or PROTOCOL
    if "otlp" in names and protocol.strip().lower() != PROTOCOL:
        raise TracingConfigError(f"OTEL_EXPORTER_OTLP_PROTOCOL is {protocol}: only {PROTOCOL} is supported")
    return list(dict.fromkeys(names))


def _endpoint(env: Mapping[str, str]) -> str:
    """Where OTLP spans go (as the exporter resolves it), without any credentials in the URL."""
    url = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if not url:
        url = (env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "http://localhost:4318").removesuffix("/") + "/v1/traces"
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def setup(service: str, logger: logging.Logger, environ: Mapping[str, str] | None = None) -> bool:
    """Turn tracing on or off for this process from the environment; True when on.

    Raises ``TracingConfigError`` for an exporter or protocol it cannot honour, so a
    misconfigured service stops at start rather than running untraced unnoticed."""
    env = os.environ if environ is None else environ
    exporters = exporters_from_env(env)
    shutdown()
    if not exporters:
        return False
    # The SDK is imported only when tracing is on.
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    attributes = {} if env.get("OTEL_SERVICE_NAME") else {"service.name": f"triage-{service}"}
    provider = TracerProvider(resource=Resource.create(attributes))
    for name in exporters:
        exporter: SpanExporter
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()
        else:
            exporter = ConsoleSpanExporter(service_name=f"triage-{service}")
        provider.add_span_processor(BatchSpanProcessor(exporter))
    install(provider)
    log_event(
        logger, "tracing_enabled", exporters=exporters,
        endpoint=_endpoint(env) if "otlp" in exporters else None,
        sampler=env.get("OTEL_TRACES_SAMPLER", "parentbased_always_on"),
    )  # fmt: skip
    return True


def install(provider: Any) -> None:
    """Trace with this ``TracerProvider`` (``setup`` builds one from the environment; tests
    pass one with an in-memory exporter). The global provider is left alone."""
    global _tracer, _provider
    _provider = provider
    _tracer = provider.get_tracer("triage_runtime")


def shutdown() -> None:
    """Export what is pending and turn tracing off (at service stop)."""
    global _tracer, _provider
    provider, _tracer, _provider = _provider, None, None
    if provider is not None:
        provider.shutdown()


def enabled() -> bool:
    return _tracer is not None


# --- the delivery step's spans ------------------------------------------------------


class Consumed(Protocol):
    """What ``BatchTrace`` reads of a consumed record (``delivery.Inbound``)."""

    @property
    def value(self) -> bytes: ...
    @property
    def headers(self) -> dict[str, str]: ...
    @property
    def topic(self) -> str | None: ...
    @property
    def partition(self) -> int | None: ...
    @property
    def offset(self) -> int | None: ...


def _stage_attributes(stage: str) -> dict[str, Any]:
    return {"messaging.system": "kafka", "triage.stage": stage}


def _failed(span: Span, error: BaseException) -> None:
    # The exception's type only: messages can quote the input.
    span.set_status(Status(StatusCode.ERROR, type(error).__name__))


def batch(stage: str, records: Sequence[Consumed], logger: logging.Logger) -> "BatchTrace | None":
    """The spans of one consumed batch, or None when tracing is off (the only cost then)."""
    tracer = _tracer
    if tracer is None:
        return None
    return BatchTrace(tracer, stage, records, logger)


class BatchTrace:
    """One batch's spans: for each record a consume span (open until the batch is
    published), a decide span, and a publish span per output, injected into its headers.

    Records and outputs are told apart by identity: the delivery step keeps the batch and
    its outputs alive until the batch is done."""

    def __init__(self, tracer: Tracer, stage: str, records: Sequence[Consumed], logger: logging.Logger) -> None:
        self.tracer = tracer
        self.stage = stage
        self.logger = logger
        self.records = records
        self.consume: dict[int, Span] = {}
        self.decided: set[int] = set()
        self.outputs: dict[int, int] = {}  # per record: how many outputs
        self.dead: set[int] = set()  # records that became a dead letter
        self.origin: dict[int, Span] = {}  # output -> its record's consume span
        self.sends: list[Span | None] = []  # None: not sampled, no span
        for record in records:
            parent = _PROPAGATOR.extract(record.headers) if record.headers else None
            attributes = _stage_attributes(self.stage)
            attributes["messaging.operation.type"] = "process"
            if record.topic is not None:
                attributes["messaging.destination.name"] = record.topic
            if record.partition is not None:
                attributes["messaging.destination.partition.id"] = str(record.partition)
            if record.offset is not None:
                attributes["messaging.kafka.offset"] = record.offset
            attributes["messaging.message.body.size"] = len(record.value)
            self.consume[id(record)] = tracer.start_span(
                f"process {record.topic}", context=parent, kind=SpanKind.CONSUMER, attributes=attributes
            )

    def _in(self, span: Span | None) -> Context | None:
        return trace.set_span_in_context(span) if span is not None else None

    def decide(self, run: Callable[[], T]) -> T:
        """Run the stage's decision over the batch. ``one_at_a_time`` gives each record a
        decide span of its own around its call; a stage that decides the batch at once
        (the classifier) gets one per record spanning the batch's decision."""
        token = _DECIDING.set(self)
        start = time.time_ns()
        try:
            return run()
        finally:
            _DECIDING.reset(token)
            end = time.time_ns()
            for key, span in self.consume.items():
                if key not in self.decided and span.is_recording():
                    attributes = _stage_attributes(self.stage)
                    attributes["triage.batch.records"] = len(self.consume)
                    self.tracer.start_span(
                        f"{self.stage} decide", context=self._in(span), start_time=start, attributes=attributes
                    ).end(end_time=end)

    @contextlib.contextmanager
    def deciding(self, record: object) -> Iterator[None]:
        """One record's decision, its span current (so logs and ``current_traceparent`` see it)."""
        key = id(record)
        self.decided.add(key)
        parent = self.consume.get(key)
        if parent is not None and not parent.is_recording():
            # not sampled: no span, but the record's context is current for whoever continues it
            with trace.use_span(parent, end_on_exit=False):
                yield
            return
        span = self.tracer.start_span(
            f"{self.stage} decide", context=self._in(parent), attributes=_stage_attributes(self.stage)
        )
        with trace.use_span(span, end_on_exit=True, record_exception=False, set_status_on_exception=False):
            try:
                yield
            except BaseException as error:
                _failed(span, error)
                raise

    @contextlib.contextmanager
    def record(self, record: object) -> Iterator[None]:
        """Make a record's consume span current (its dead letter's log line carries the trace id)."""
        span = self.consume.get(id(record))
        if span is None:
            yield
            return
        with trace.use_span(span, end_on_exit=False, record_exception=False, set_status_on_exception=False):
            yield

    def produced(self, record: object, outputs: Sequence[object], dead_letter: bool) -> None:
        span = self.consume.get(id(record))
        if span is None:
            return
        self.outputs[id(record)] = len(outputs)
        if dead_letter:
            self.dead.add(id(record))
        for output in outputs:
            self.origin[id(output)] = span

    def send(self, output: object, topic: str, record_type: str, headers: Mapping[str, str]) -> dict[str, str]:
        """Start the publish span of one output; returns its headers with the span's context
        (the record's own, unsampled, when the trace is not sampled)."""
        origin = self.origin.get(id(output))
        carrier = dict(headers)
        if origin is not None and not origin.is_recording():
            self.sends.append(None)
            _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(origin))
            return carrier
        attributes = _stage_attributes(self.stage)
        attributes["messaging.operation.type"] = "send"
        attributes["messaging.destination.name"] = topic
        attributes["triage.record_type"] = record_type
        span = self.tracer.start_span(
            f"send {topic}", context=self._in(origin), kind=SpanKind.PRODUCER, attributes=attributes
        )
        self.sends.append(span)
        _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
        return carrier

    def sent(self, results: Sequence[object]) -> None:
        """End the publish spans with their acknowledgements (an exception: that send failed;
        a span without a result: its send raised before it was handed over)."""
        for index, span in enumerate(self.sends):
            if span is None:
                continue
            result = results[index] if index < len(results) else None
            if isinstance(result, BaseException):
                _failed(span, result)
            elif index >= len(results):
                span.set_status(Status(StatusCode.ERROR, "not sent"))
            span.end()
        self.sends = []

    def failed(self, error: BaseException) -> None:
        """The batch was not published: it will be consumed again."""
        for span in self.consume.values():
            _failed(span, error)

    def end(self) -> None:
        """End every consume span; at DEBUG, one ``record_processed`` line per record in its span."""
        debug = self.logger.isEnabledFor(logging.DEBUG)
        for record in self.records:
            key = id(record)
            span = self.consume.pop(key, None)
            if span is None:
                continue
            dead = key in self.dead
            span.set_attribute("triage.outputs", self.outputs.get(key, 0))
            span.set_attribute("triage.dead_lettered", dead)
            if debug:
                with trace.use_span(span, end_on_exit=False):
                    log_event(
                        self.logger, "record_processed", logging.DEBUG, stage=self.stage, topic=record.topic,
                        partition=record.partition, offset=record.offset, outputs=self.outputs.get(key, 0),
                        dead_lettered=dead,
                    )  # fmt: skip
            span.end()


def deciding() -> BatchTrace | None:
    """The traced batch whose decision is running, if any (None whenever tracing is off)."""
    return _DECIDING.get()


# --- records sent outside the delivery step -----------------------------------------


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, to continue its trace later (the SLA
    monitor keeps it with the clock a routed record started); None when tracing is off."""
    if _tracer is None:
        return None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


class Sends:
    """Publish spans of records sent outside the delivery step (the SLA monitor's alerts),
    each continuing the trace of the traceparent it was given (a new trace without one)."""

    def __init__(self, tracer: Tracer, stage: str) -> None:
        self.tracer = tracer
        self.stage = stage
        self.spans: list[Span] = []

    def start(
        self, topic: str, traceparent: str | None, record_type: str, attributes: Mapping[str, str | int] | None = None
    ) -> list[tuple[str, bytes]]:
        """Start one record's publish span; returns the Kafka headers carrying its context."""
        parent = _PROPAGATOR.extract({"traceparent": traceparent}) if traceparent else None
        span_attributes: dict[str, Any] = _stage_attributes(self.stage)
        span_attributes.update({"messaging.operation.type": "send", "messaging.destination.name": topic,
                                "triage.record_type": record_type, **(attributes or {})})  # fmt: skip
        span = self.tracer.start_span(
            f"send {topic}", context=parent, kind=SpanKind.PRODUCER, attributes=span_attributes
        )
        self.spans.append(span)
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
        return [(name, value.encode()) for name, value in carrier.items()]

    @contextlib.contextmanager
    def current(self, index: int) -> Iterator[None]:
        """Make one record's span current (its log line carries the trace id)."""
        with trace.use_span(self.spans[index], end_on_exit=False):
            yield

    def end(self, error: BaseException | None = None) -> None:
        for span in self.spans:
            if error is not None:
                _failed(span, error)
            span.end()
        self.spans = []


def sends(stage: str) -> Sends | None:
    """Publish spans for records sent outside the delivery step, or None when tracing is off."""
    tracer = _tracer
    return None if tracer is None else Sends(tracer, stage)
