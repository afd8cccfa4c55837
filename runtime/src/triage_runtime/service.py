"""Running a service: the Kafka broker plus one HTTP port for metrics and probes.

Every service serves ``/metrics`` (Prometheus), ``/healthz`` (the process is alive),
``/readyz`` (connected to Kafka and ready to work) and ``/asyncapi`` (its AsyncAPI
document, from its contract) on its ``http_port``; a service
may add routes (the ingest webhooks, the SLA monitor's ``/wait-times``). SIGTERM or
SIGINT stops the HTTP server, then the broker: consumers stop, the records in hand
are finished and committed, and the process exits 0.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import uvicorn
from aiokafka import ConsumerRebalanceListener
from faststream.kafka import KafkaBroker
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from triage_runtime import tracing
from triage_runtime.contract import Contract, service_document
from triage_runtime.delivery import Inbound, OnPublished, ProcessBatch, Stage, subscribe
from triage_runtime.kafka import make_broker
from triage_runtime.logs import configure_logging, log_event
from triage_runtime.settings import ServiceSettings

Hook = Callable[[], Awaitable[None]]


class _Server(uvicorn.Server):
    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        # uvicorn re-raises the signal after a graceful shutdown, which turns an
        # orderly SIGTERM into exit status -15; a requested stop is a clean exit.
        self._captured_signals.clear()


def _connection_hint(security_protocol: str) -> str:
    hint = "check TRIAGE_KAFKA_BOOTSTRAP_SERVERS and that the brokers are up"
    if security_protocol.startswith("SASL"):
        hint += "; the aiokafka line above says whether TRIAGE_KAFKA_SASL_* credentials were refused"
    if security_protocol.endswith("SSL"):
        hint += "; check TRIAGE_KAFKA_SSL_CAFILE matches the brokers' certificates"
    return hint


async def _metrics(_: Request) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


@dataclass
class ServiceRuntime:
    name: str
    settings: ServiceSettings
    broker: KafkaBroker
    logger: logging.Logger
    routes: Sequence[BaseRoute] = ()
    before_start: Sequence[Hook] = ()
    """Run before the broker starts consuming (ingest restores its dedupe window)."""
    on_startup: Sequence[Hook] = ()
    before_stop: Sequence[Hook] = ()  # while the producer still runs (flush what waits to be sent)
    on_shutdown: Sequence[Hook] = ()
    contract: Contract | None = None
    """What the service reads and writes: its AsyncAPI document at ``/asyncapi``."""
    _started: bool = field(default=False, init=False)
    _asyncapi: dict[str, Any] | None = field(default=None, init=False)

    async def _ready(self, _: Request) -> Response:
        if not self._started:
            return JSONResponse({"ready": False, "reason": "starting"}, status_code=503)
        if not await self.broker.ping(timeout=3.0):
            return JSONResponse({"ready": False, "reason": "kafka unreachable"}, status_code=503)
        return JSONResponse({"ready": True})

    async def _healthy(self, _: Request) -> Response:
        return JSONResponse({"alive": True, "service": self.name})

    def asyncapi(self) -> dict[str, Any]:
        """This service's AsyncAPI 3 document (``triage_runtime.contract``), built once."""
        if self.contract is None:
            raise LookupError(f"{self.name} declares no contract")
        if self._asyncapi is None:
            self._asyncapi = service_document(self.name, self.settings, self.broker, self.contract)
        return self._asyncapi

    async def _asyncapi_json(self, _: Request) -> Response:
        body = json.dumps(self.asyncapi(), indent=2, sort_keys=True, ensure_ascii=False)
        return Response(body, media_type="application/json")

    @contextlib.asynccontextmanager
    async def _lifespan(self, _: Starlette) -> AsyncIterator[None]:
        kafka = self.settings.kafka
        try:
            for hook in self.before_start:
                await hook()
            await self.broker.start()
        except Exception as error:
            log_event(
                self.logger,
                "kafka_unreachable",
                logging.ERROR,
                bootstrap_servers=kafka.bootstrap_servers,
                security_protocol=kafka.security_protocol,
                error=f"{type(error).__name__}: {error}",
                hint=_connection_hint(kafka.security_protocol),
            )
            raise
        for hook in self.on_startup:
            await hook()
        self._started = True
        log_event(self.logger, "started", http_port=self.settings.http_port, bootstrap_servers=kafka.bootstrap_servers)
        try:
            yield
        finally:
            self._started = False
            log_event(self.logger, "stopping")
            for hook in self.before_stop:
                await hook()
            await asyncio.wait_for(self.broker.stop(), timeout=self.settings.shutdown_timeout_seconds)
            for hook in self.on_shutdown:
                await hook()
            tracing.shutdown()  # exports the spans still pending (a no-op when tracing is off)
            log_event(self.logger, "stopped")

    def asgi_app(self) -> Starlette:
        routes: list[BaseRoute] = [
            Route("/healthz", self._healthy),
            Route("/readyz", self._ready),
            Route("/metrics", _metrics),
            *([Route("/asyncapi", self._asyncapi_json)] if self.contract is not None else []),
            *self.routes,
        ]
        return Starlette(routes=routes, lifespan=self._lifespan)

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT; returns the process exit code."""
        config = uvicorn.Config(
            self.asgi_app(),
            host=self.settings.http_host,
            port=self.settings.http_port,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=int(self.settings.shutdown_timeout_seconds),
        )
        server = _Server(config)
        server.run()
        return 0 if server.started else 1


@dataclass
class Service:
    """One service put together the same way for all four: logging, then the broker, then
    the delivery step and its subscription, then the HTTP runtime.

    ``create`` gives the logger and broker (a stage may need them to build its decision
    step); ``consume`` wires the step to its input topics; ``runtime`` serves it."""

    name: str
    settings: ServiceSettings
    logger: logging.Logger
    broker: KafkaBroker

    @classmethod
    def create(cls, name: str, settings: ServiceSettings) -> "Service":
        logger = configure_logging(name, settings.log_level)
        try:
            tracing.setup(name, logger)  # from the OTEL_* variables; off unless they ask for it
        except tracing.TracingConfigError as error:
            raise SystemExit(f"{name}: {error}") from None
        return cls(name, settings, logger, make_broker(settings.kafka, client_id=f"triage-{name}", logger=logger))

    def consume(
        self,
        topics: str | Sequence[str],
        process: ProcessBatch,
        *,
        max_records: int = 500,
        on_published: OnPublished | None = None,
        extra: Callable[[Sequence[Inbound]], Awaitable[None]] | None = None,
        listener: ConsumerRebalanceListener | None = None,
        co_partitioned: bool = False,
        stage: Stage | None = None,
        gather_ms: int = 0,
        group: str | None = None,
        read_committed: bool = False,
        ready: Callable[[], Awaitable[Any]] | None = None,
    ) -> Stage:
        """Wire ``process`` to ``topics``; ``stage`` when the service built its own (ingest,
        whose decision step and delivery step share the dedupe). ``gather_ms`` lets the
        broker hold a fetch that long until records gather into a batch, for a stage
        whose cost is per batch rather than per record. ``group`` (default: the service's
        consumer group) for a second subscription of the same service; ``read_committed``
        for a topic written in transactions; ``ready`` is awaited before each batch (see
        ``subscribe``)."""
        tuning: dict[str, object] = dict(self.settings.kafka.consumer_options(gather_ms))
        if read_committed:
            tuning["isolation_level"] = "read_committed"
        stage = stage or Stage(self.name, self.broker, self.settings.topics.dlq, self.logger, on_published=on_published)
        subscribe(
            self.broker,
            stage,
            topics,
            group or self.settings.consumer_group,
            process,
            batch=True,
            max_records=max_records,
            extra=extra,
            listener=listener,
            co_partitioned=co_partitioned,
            tuning=tuning,
            ready=ready,
        )
        return stage

    def runtime(
        self,
        routes: Sequence[BaseRoute] = (),
        before_start: Sequence[Hook] = (),
        on_startup: Sequence[Hook] = (),
        on_shutdown: Sequence[Hook] = (),
        before_stop: Sequence[Hook] = (),
        contract: Contract | None = None,
    ) -> ServiceRuntime:
        return ServiceRuntime(
            self.name, self.settings, self.broker, self.logger, routes=routes,
            before_start=before_start, on_startup=on_startup, on_shutdown=on_shutdown, before_stop=before_stop,
            contract=contract,
        )  # fmt: skip
