"""Fixtures for every test that needs the real Kafka broker."""

import asyncio
import contextlib
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.harness import (
    BrokerUnavailable,
    KafkaHarness,
    ServiceProcess,
    ensure_broker,
    free_port,
    topic_env,
    unique_topics,
)

ALERTMANAGER_CONFIG = """
route: {receiver: 'null', group_wait: 1s}
receivers: [{name: 'null'}]
"""


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """A reachable broker: the local one is started when it is not running.
    If it cannot be had the test fails; it never skips."""
    bootstrap = os.environ.get("TRIAGE_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    try:
        return ensure_broker(bootstrap)
    except BrokerUnavailable as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture
async def kafka(kafka_bootstrap: str) -> AsyncIterator[KafkaHarness]:
    """A harness with this test's own, freshly created topics."""
    harness = KafkaHarness(kafka_bootstrap, unique_topics())
    await harness.create_topics()
    try:
        yield harness
    finally:
        await harness.close()
        await harness.delete_topics()


@pytest.fixture
def services(kafka: KafkaHarness, tmp_path: Path) -> Iterator["ServiceFactory"]:
    factory = ServiceFactory(kafka, tmp_path)
    try:
        yield factory
    finally:
        factory.stop_all()


class ServiceFactory:
    """Starts services as separate processes wired to the test's topics."""

    def __init__(self, kafka: KafkaHarness, log_dir: Path) -> None:
        self.kafka = kafka
        self.log_dir = log_dir
        self.started: list[ServiceProcess] = []

    def env(self, service: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        prefix = "TRIAGE_" + service.upper().replace("-", "_") + "_"
        return {
            "TRIAGE_KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap,
            **topic_env(self.kafka.topics),
            f"{prefix}CONSUMER_GROUP": f"{self.kafka.topics.raw}-{service}",
            **(extra or {}),
        }

    async def start(
        self, service: str, env: dict[str, str] | None = None, ready_timeout: float = 60.0
    ) -> ServiceProcess:
        process = ServiceProcess(
            service,
            self.env(service, env),
            log_path=self.log_dir / f"{service}-{len(self.started)}.log",
        ).start()
        self.started.append(process)
        await process.wait_ready(ready_timeout)
        return process

    def stop_all(self) -> None:
        for process in self.started:
            if process.process is not None and process.process.poll() is None:
                process.stop()


@pytest.fixture
async def alertmanager(tmp_path: Path) -> AsyncIterator[str]:
    """A real Alertmanager (Debian's package) on a free port; yields its base URL."""
    config = tmp_path / "alertmanager.yml"
    config.write_text(ALERTMANAGER_CONFIG)
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        "/usr/bin/prometheus-alertmanager", f"--config.file={config}", f"--storage.path={tmp_path / 'am'}",
        f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(150):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{url}/-/ready")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("alertmanager did not become ready")
        yield url
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)
