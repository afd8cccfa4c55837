"""The real-broker test harness shared by every test that crosses a topic.

``ensure_broker`` starts the local broker (deploy/local-kafka/kafka.sh) when nothing
answers on the bootstrap address and fails, never skips, when it cannot.
``KafkaHarness`` makes unique topics per test and produces and consumes records.
``ServiceProcess`` runs one service as a separate process, the way it is deployed.
"""

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient

from triage_runtime.kafka import KafkaSettings, ensure_topics
from triage_runtime.topics import TopicSettings
from triage_schemas.records import Record

REPO = Path(__file__).resolve().parent.parent
KAFKA_SCRIPT = REPO / "deploy" / "local-kafka" / "kafka.sh"
VENV_BIN = Path(sys.executable).parent


class BrokerUnavailable(RuntimeError):
    pass


def _reachable(bootstrap: str, timeout: float = 1.0) -> bool:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except OSError:
        return False


def ensure_broker(bootstrap: str) -> str:
    """Return ``bootstrap`` once a broker answers there, starting the local one if needed."""
    if _reachable(bootstrap):
        return bootstrap
    if bootstrap not in ("127.0.0.1:9092", "localhost:9092"):
        raise BrokerUnavailable(f"no Kafka broker answers at {bootstrap} (TRIAGE_KAFKA_BOOTSTRAP_SERVERS)")
    started = subprocess.run([str(KAFKA_SCRIPT), "up"], capture_output=True, text=True, timeout=300)
    if started.returncode != 0 or not _reachable(bootstrap):
        raise BrokerUnavailable(
            f"the local Kafka broker could not be started ({KAFKA_SCRIPT} up exited {started.returncode}):\n"
            f"{started.stderr[-3000:]}"
        )
    return bootstrap


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unique_topics(partitions: int = 3) -> TopicSettings:
    """Topic names no other test uses, so tests never see each other's records."""
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    names = {key: f"{prefix}.{name}" for key, name in TopicSettings().all_topics().items()}
    return TopicSettings.model_validate({**names, "partitions": partitions, "replication_factor": 1})


def topic_env(topics: TopicSettings) -> dict[str, str]:
    env = {f"TRIAGE_TOPIC_{key.upper()}": name for key, name in topics.all_topics().items()}
    env["TRIAGE_TOPIC_PARTITIONS"] = str(topics.partitions)
    return env


@dataclass
class KafkaHarness:
    bootstrap: str
    topics: TopicSettings
    _producer: AIOKafkaProducer | None = None
    _consumers: list[AIOKafkaConsumer] = field(default_factory=list)

    @property
    def settings(self) -> KafkaSettings:
        return KafkaSettings(bootstrap_servers=self.bootstrap)

    async def create_topics(self) -> None:
        await ensure_topics(self.settings, self.topics)

    async def delete_topics(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            with contextlib.suppress(Exception):
                await admin.delete_topics(list(self.topics.all_topics().values()))
        finally:
            await admin.close()

    async def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True)
            await self._producer.start()
        return self._producer

    async def produce(
        self,
        topic: str,
        value: Record | bytes | str,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if isinstance(value, Record):
            data = value.to_json_bytes()
        elif isinstance(value, str):
            data = value.encode("utf-8")
        else:
            data = value
        producer = await self.producer()
        await producer.send_and_wait(
            topic,
            data,
            key=key.encode("utf-8") if key is not None else None,
            headers=[(name, raw.encode("utf-8")) for name, raw in (headers or {}).items()],
        )

    async def consumer(self, *topics: str, read_committed: bool = False) -> AIOKafkaConsumer:
        """A consumer that reads ``topics`` from the beginning, outside any group;
        ``read_committed`` skips what aborted transactions wrote (the SLA monitor's alerts)."""
        consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=self.bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            isolation_level="read_committed" if read_committed else "read_uncommitted",
        )
        await consumer.start()
        self._consumers.append(consumer)
        return consumer

    async def consume(
        self,
        topic: str,
        count: int,
        timeout: float = 30.0,
        consumer: AIOKafkaConsumer | None = None,
    ) -> list["ConsumerRecord[bytes, bytes]"]:
        """Wait for ``count`` records on ``topic`` (from the beginning, or where ``consumer`` is)."""
        reader = consumer or await self.consumer(topic)
        records: list[ConsumerRecord[bytes, bytes]] = []
        try:
            async with asyncio.timeout(timeout):
                while len(records) < count:
                    batches = await reader.getmany(timeout_ms=500)
                    for batch in batches.values():
                        records.extend(batch)
        except TimeoutError:
            raise AssertionError(f"expected {count} records on {topic} within {timeout}s, got {len(records)}") from None
        return records

    async def drain(self, consumer: AIOKafkaConsumer, quiet_ms: int = 1500) -> list["ConsumerRecord[bytes, bytes]"]:
        """Everything ``consumer`` can read until the topic stays quiet for ``quiet_ms``."""
        records: list[ConsumerRecord[bytes, bytes]] = []
        while batches := await consumer.getmany(timeout_ms=quiet_ms):
            for batch in batches.values():
                records.extend(batch)
        return records

    async def close(self) -> None:
        for consumer in self._consumers:
            with contextlib.suppress(Exception):
                await consumer.stop()
        if self._producer is not None:
            await self._producer.stop()


@dataclass
class ServiceProcess:
    """One service started as ``triage-<service> <args>`` in its own process."""

    service: str
    env: dict[str, str]
    args: Sequence[str] = ("serve",)
    log_path: Path | None = None
    http_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def env_prefix(self) -> str:
        return "TRIAGE_" + self.service.upper().replace("-", "_") + "_"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> "ServiceProcess":
        env = {**os.environ, **self.env, f"{self.env_prefix}HTTP_PORT": str(self.http_port)}
        env.setdefault(f"{self.env_prefix}HTTP_HOST", "127.0.0.1")
        log = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [str(VENV_BIN / f"triage-{self.service}"), *self.args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self

    async def wait_ready(self, timeout: float = 60.0) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise AssertionError(
                        f"triage-{self.service} exited with {self.process.returncode}: {self.log_tail()}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.url}/readyz")).status_code == 200:
                        return
                await asyncio.sleep(0.2)
        raise AssertionError(f"triage-{self.service} not ready within {timeout}s: {self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path and self.log_path.exists():
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send ``sig`` and return the exit code (SIGKILL after ``timeout``)."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)

    def metrics_text(self) -> str:
        return httpx.get(f"{self.url}/metrics", timeout=5.0).text


def metric_value(text: str, name: str, labels: Mapping[str, str] | None = None) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    wanted = labels or {}
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        sample, _, label_text = head.partition("{")
        if sample != name:
            continue
        found = dict(part.split("=", 1) for part in label_text.rstrip("}").split(",") if "=" in part)
        if all(found.get(k, "").strip('"') == v for k, v in wanted.items()):
            return float(value)
    return 0.0


def json_lines(records: Sequence["ConsumerRecord[bytes, bytes]"]) -> list[dict[str, Any]]:
    import json

    return [json.loads(r.value) for r in records]


async def active_alerts(url: str) -> list[dict[str, Any]]:
    """The alerts a real Alertmanager at ``url`` holds active."""
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{url}/api/v2/alerts", params={"active": "true", "silenced": "false"})
        alerts: list[dict[str, Any]] = response.json()
        return [a for a in alerts if a["status"]["state"] == "active"]


async def wait_for_alerts(url: str, predicate: Any, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Alertmanager's active alerts once ``predicate`` holds for them."""
    async with asyncio.timeout(timeout):
        while True:
            alerts = await active_alerts(url)
            if predicate(alerts):
                return alerts
            await asyncio.sleep(0.2)
