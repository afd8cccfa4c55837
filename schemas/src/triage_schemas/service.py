"""Running a service: the Kafka broker plus one HTTP port for metrics and probes.

Every service serves ``/metrics`` (Prometheus), ``/healthz`` (the process is alive)
and ``/readyz`` (connected to Kafka and ready to work) on its ``http_port``; a service
may add routes (the ingest webhooks, the SLA monitor's ``/wait-times``). SIGTERM or
SIGINT stops the HTTP server, then the broker: consumers stop, the records in hand
are finished and committed, and the process exits 0.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType

import uvicorn
from faststream.kafka import KafkaBroker
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from triage_schemas.logs import log_event
from triage_schemas.settings import ServiceSettings

Hook = Callable[[], Awaitable[None]]
ReadyCheck = Callable[[], Awaitable[bool]]


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
    on_shutdown: Sequence[Hook] = ()
    ready_checks: Sequence[ReadyCheck] = ()
    _started: bool = field(default=False, init=False)

    async def _ready(self, _: Request) -> Response:
        if not self._started:
            return JSONResponse({"ready": False, "reason": "starting"}, status_code=503)
        if not await self.broker.ping(timeout=3.0):
            return JSONResponse({"ready": False, "reason": "kafka unreachable"}, status_code=503)
        for check in self.ready_checks:
            if not await check():
                return JSONResponse({"ready": False, "reason": check.__name__}, status_code=503)
        return JSONResponse({"ready": True})

    async def _healthy(self, _: Request) -> Response:
        return JSONResponse({"alive": True, "service": self.name})

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
            await asyncio.wait_for(self.broker.stop(), timeout=self.settings.shutdown_timeout_seconds)
            for hook in self.on_shutdown:
                await hook()
            log_event(self.logger, "stopped")

    def asgi_app(self) -> Starlette:
        routes: list[BaseRoute] = [
            Route("/healthz", self._healthy),
            Route("/readyz", self._ready),
            Route("/metrics", _metrics),
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
