"""One service's FastStream app, built by its own ``build(settings)``, driven in memory or on Kafka.

The same handler cases run in two modes, the way FastStream's own test suite runs its
cases (see ``conftest.py``):

* ``memory``: ``TestKafkaBroker(broker)``. Publishing runs the subscribed handler in the
  same task, and what it publishes runs the collectors below, so a stage's outputs are
  there when ``send`` returns (what a service sends later, on a timer, such as ingest's
  gathered seen-marks, arrives when it is sent). Nothing connects to Kafka.
* ``kafka``: ``TestKafkaBroker(broker, with_real=True)`` on the real broker, with topics
  of the test's own; outputs arrive as the consumers read them.

Outputs are read by collector subscribers added to the service's own broker, one per
output topic, so a case sees what a downstream consumer would: topic, key, value.

Two things TestKafkaBroker does not do as aiokafka does, both adapted here, in the test
double only (``_FaithfulFakeProducer``); the runtime is not changed for them:

1. It hands a batch subscriber a ``list`` of records; aiokafka's ``getmany`` (and the
   runtime's ``wait_without_idle_sleep``) hand over a ``tuple``, and the delivery step
   tells a batch from a single record by ``isinstance(raw, tuple)``. Unadapted, the
   whole list is taken for one record: ``AttributeError: 'list' object has no
   attribute 'value'`` in ``Inbound.from_consumer_record``.
2. ``publish(..., no_confirm=True)`` returns ``None`` instead of a future; the delivery
   step gathers those futures (``TypeError: An asyncio.Future, a coroutine or an
   awaitable is required`` in ``Stage.publish``) and ingest adds a callback to each
   seen-mark future (``AttributeError: 'NoneType' object has no attribute
   'add_done_callback'`` in ``SeenMarks.flush``). The adapted publish returns an
   acknowledged (completed) future.

Clients the services open outside FastStream are replaced in memory mode only: ingest's
read-back of its dedupe marks (``restore_seen``), the SLA monitor's partition check and
its transactional producer (its clock state and alerts go to the collectors instead); and
the gates that hold batches until a listener has restored state are opened
(``open_gate``), since no partition is ever assigned in memory.
"""

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import pytest
from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.testing import FakeProducer

from triage_runtime.service import ServiceRuntime
from triage_runtime.settings import ServiceSettings
from triage_runtime.topics import TopicSettings
from triage_schemas.records import Record

Mode = Literal["memory", "kafka"]
MODES: tuple[Mode, ...] = ("memory", "kafka")

# Only a failing wait runs into these: a wait ends as soon as its records are there.
TIMEOUTS: dict[Mode, float] = {"memory": 5.0, "kafka": 30.0}


@dataclass(frozen=True)
class Output:
    """One record a service wrote, as a consumer of its topic reads it."""

    topic: str
    key: str | None
    value: bytes | None

    def json(self) -> Any:
        assert self.value is not None, f"a tombstone on {self.topic} (key {self.key})"
        return json.loads(self.value)


class Outputs:
    """Every record the collectors have read, in the order each topic's partitions give them."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.records: list[Output] = []
        self._changed = asyncio.Condition()

    async def add(self, output: Output) -> None:
        async with self._changed:
            self.records.append(output)
            self._changed.notify_all()

    def on(self, topic: str, key: str | None = None) -> list[Output]:
        return [r for r in self.records if r.topic == topic and (key is None or r.key == key)]

    async def wait_for(
        self,
        topic: str,
        count: int = 1,
        *,
        key: str | None = None,
        until: Callable[[list[Output]], bool] | None = None,
    ) -> list[Output]:
        """The records on ``topic`` (with ``key``) once there are ``count`` of them, or
        once ``until`` holds for them; fails naming what did arrive."""

        def ready() -> bool:
            found = self.on(topic, key)
            return until(found) if until is not None else len(found) >= count

        try:
            async with asyncio.timeout(self.timeout), self._changed:
                await self._changed.wait_for(ready)
        except TimeoutError:
            found = self.on(topic, key)
            wanted = "the expected records" if until is not None else f"{count} record(s)"
            raise AssertionError(
                f"{wanted} on {topic}{f' with key {key}' if key else ''} within {self.timeout}s; "
                f"got {len(found)}: {[r.value[:300] if r.value else r.value for r in found]}"
            ) from None
        return self.on(topic, key)


class _FaithfulFakeProducer(FakeProducer):
    """TestKafkaBroker's in-memory producer, handing batches and acknowledgements over the
    way aiokafka does (see the module docstring)."""

    async def publish(self, cmd: Any) -> Any:
        await super().publish(cmd)
        if not cmd.no_confirm:
            return None
        acknowledged: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        acknowledged.set_result(None)
        return acknowledged

    async def _execute_handler(self, msg: Any, topic: str, handler: Any) -> "ConsumerRecord[Any, Any]":
        if isinstance(msg, list):  # a batch: aiokafka's getmany gives a tuple of records
            msg = tuple(msg)
        return await super()._execute_handler(msg, topic, handler)


class InMemoryKafka(TestKafkaBroker):
    """``TestKafkaBroker(broker)`` with the producer above in place of FastStream's."""

    @contextmanager
    def _patch_producer(self, broker: KafkaBroker) -> Generator[None, None, None]:
        config = broker.config.broker_config
        previous, config.producer = config.producer, _FaithfulFakeProducer(broker, self.brokers)
        try:
            yield
        finally:
            config.producer = previous


class InMemoryTransactionalProducer:
    """Stands in for the SLA monitor's transactional aiokafka producer in memory mode: what a
    committed transaction sent goes to the collectors; an aborted one's sends are dropped."""

    def __init__(self, outputs: Outputs) -> None:
        self.outputs = outputs
        self._open: list[Output] | None = None

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        assert self._open is None, "transactions do not nest"
        sent: list[Output] = []
        self._open = sent
        try:
            yield
        finally:
            self._open = None
        for output in sent:  # committed
            await self.outputs.add(output)

    async def send(
        self, topic: str, value: bytes | None = None, key: bytes | None = None, partition: int | None = None
    ) -> None:
        assert self._open is not None, "a transactional producer sends inside a transaction"
        self._open.append(Output(topic, key.decode() if key is not None else None, value))


async def _record_of(message: Any) -> Any:
    # the collectors take the consumer record itself: topic, key and the undecoded value
    return message.raw_message


@dataclass
class ServiceSpec:
    """How a case class builds its service: the settings class and ``build`` of its app."""

    name: str
    settings: Callable[[], ServiceSettings]
    build: Callable[[Any], ServiceRuntime]
    outputs: Callable[[TopicSettings], Sequence[str]]
    read_committed: Callable[[TopicSettings], Iterable[str]] = lambda topics: ()
    memory_patches: Callable[[pytest.MonkeyPatch, "Outputs"], None] | None = None


@dataclass
class RunningService:
    """A service's app running in one mode: send it records, read what it wrote."""

    mode: Mode
    runtime: ServiceRuntime
    settings: Any
    outputs: Outputs
    broker: KafkaBroker = field(init=False)

    def __post_init__(self) -> None:
        self.broker = self.runtime.broker

    @property
    def topics(self) -> TopicSettings:
        return self.settings.topics  # type: ignore[no-any-return]

    async def send(
        self, topic: str, value: Record | dict[str, Any] | bytes | str, key: str, headers: dict[str, str] | None = None
    ) -> None:
        """Publish one input record as a producer upstream would."""
        if isinstance(value, Record):
            data = value.to_json_bytes()
        elif isinstance(value, dict):
            data = json.dumps(value).encode()
        elif isinstance(value, str):
            data = value.encode()
        else:
            data = value
        await self.broker.publish(data, topic=topic, key=key.encode(), headers=headers)

    async def get(self, path: str) -> httpx.Response:
        """A request to the service's HTTP app (its routes, without the lifespan)."""
        transport = httpx.ASGITransport(app=self.runtime.asgi_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            return await client.get(path)


def service_env(service: str, bootstrap: str, topics: TopicSettings) -> dict[str, str]:
    """The service's settings as its deployment gives them: env vars, a consumer group of its own."""
    prefix = "TRIAGE_" + service.upper().replace("-", "_") + "_"
    env = {
        "TRIAGE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "TRIAGE_TOPIC_PARTITIONS": str(topics.partitions),
        f"{prefix}CONSUMER_GROUP": f"handlers-{service}-{uuid.uuid4().hex[:8]}",
    }
    env.update({f"TRIAGE_TOPIC_{key.upper()}": name for key, name in topics.all_topics().items()})
    return env


def open_gate(monkeypatch: pytest.MonkeyPatch, owner: type, event: str) -> None:
    """In memory the consumer group never assigns partitions, so the listeners that restore
    state never run: open the gate (an ``asyncio.Event`` attribute set once restored) that
    the stage's batches wait for (``subscribe``'s ``ready``), as an assignment with nothing
    to restore would."""
    init = vars(owner)["__init__"]

    def opened(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        getattr(self, event).set()

    monkeypatch.setattr(owner, "__init__", opened)


@contextlib.asynccontextmanager
async def run_service(
    spec: ServiceSpec,
    mode: Mode,
    monkeypatch: pytest.MonkeyPatch,
    bootstrap: str,
    topics: TopicSettings,
    env: dict[str, str] | None = None,
) -> AsyncIterator[RunningService]:
    """Build the service's app with its own ``build(settings)`` and run it as its runtime
    does: ``before_start`` hooks, the broker, ``on_startup`` hooks; at the end ``before_stop``
    hooks, the broker stops, ``on_shutdown`` hooks (``ServiceRuntime._lifespan``'s order)."""
    for name, value in {**service_env(spec.name, bootstrap, topics), **(env or {})}.items():
        monkeypatch.setenv(name, value)
    outputs = Outputs(TIMEOUTS[mode])
    if mode == "memory" and spec.memory_patches is not None:
        spec.memory_patches(monkeypatch, outputs)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level  # build() configures the root logger
    try:
        settings = spec.settings()
        # In a worker thread: the SLA monitor's build() runs its partition check with asyncio.run.
        runtime = await asyncio.to_thread(spec.build, settings)
        running = RunningService(mode, runtime, settings, outputs)
        committed = set(spec.read_committed(settings.topics))
        for topic in spec.outputs(settings.topics):
            _collect(running.broker, topic, outputs, read_committed=topic in committed)
        broker = running.broker
        test_broker = InMemoryKafka(broker) if mode == "memory" else TestKafkaBroker(broker, with_real=True)
        for hook in runtime.before_start:
            await hook()
        try:
            async with test_broker:
                for hook in runtime.on_startup:
                    await hook()
                try:
                    yield running
                finally:
                    for hook in runtime.before_stop:  # while the producer still runs
                        await hook()
        finally:
            for hook in runtime.on_shutdown:  # after the broker stopped, as the runtime does
                await hook()
    finally:
        root.handlers[:], root.level = handlers, level


def _collect(broker: KafkaBroker, topic: str, outputs: Outputs, *, read_committed: bool) -> None:
    async def collect(record: "ConsumerRecord[bytes, bytes]") -> None:
        key = record.key.decode() if isinstance(record.key, bytes) else record.key
        await outputs.add(Output(record.topic, key or None, record.value))

    options: dict[str, Any] = {"auto_offset_reset": "earliest", "decoder": _record_of, "no_reply": True}
    if read_committed:
        options["isolation_level"] = "read_committed"
    broker.subscriber(topic, **options)(collect)
