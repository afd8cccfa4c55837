"""The whole pipeline as four processes on the real broker, and a real Prometheus."""

import asyncio
import contextlib
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import ServiceFactory
from tests.harness import ServiceProcess, free_port
from triage_router.policy import DEMO_POLICY

STAGES = ("ingest", "classifier", "router", "sla-monitor")


def policy_with_targets(path: Path, targets: Mapping[str, int | None]) -> Path:
    """The demo policy with the given first-response targets (seconds) per issue type."""
    policy = yaml.safe_load(DEMO_POLICY.read_text())
    policy["version"] = "e2e"
    policy["sla"]["targets"].update({issue: (f"{s}s" if s is not None else None) for issue, s in targets.items()})
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return path


@dataclass
class Prometheus:
    url: str

    async def query(self, promql: str) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(timeout=5.0) as client:
            response = await client.get(f"{self.url}/api/v1/query", params={"query": promql})
        body = response.json()
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    async def targets_up(self) -> dict[str, str]:
        async with httpx.AsyncClient(timeout=5.0) as client:
            active = (await client.get(f"{self.url}/api/v1/targets")).json()["data"]["activeTargets"]
        return {t["labels"]["job"]: t["health"] for t in active}


StartPrometheus = Callable[[dict[str, ServiceProcess]], Awaitable[Prometheus]]


@pytest.fixture
async def prometheus(tmp_path: Path) -> AsyncIterator[StartPrometheus]:
    """Starts Debian's prometheus on a loopback port, scraping the given services every second."""
    processes: list[asyncio.subprocess.Process] = []

    async def start(scraped: dict[str, ServiceProcess]) -> Prometheus:
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                {"job_name": name, "static_configs": [{"targets": [service.url.removeprefix("http://")]}]}
                for name, service in scraped.items()
            ],
        }
        config_file = tmp_path / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(config))
        port = free_port()
        log = (tmp_path / "prometheus.log").open("wb")
        process = await asyncio.create_subprocess_exec(
            "prometheus", f"--config.file={config_file}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}", stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                if process.returncode is not None:
                    raise AssertionError(f"prometheus exited: {(tmp_path / 'prometheus.log').read_text()[-2000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{url}/-/ready")).status_code == 200:
                        return Prometheus(url)
                await asyncio.sleep(0.1)
        raise AssertionError("prometheus did not become ready within 30 s")

    try:
        yield start
    finally:
        for process in processes:
            if process.returncode is None:
                process.terminate()
                await asyncio.wait_for(process.wait(), 15)


async def start_pipeline(
    services: ServiceFactory, policy: Path, extra: dict[str, dict[str, str]] | None = None
) -> dict[str, ServiceProcess]:
    """The four services, each its own process, wired to the test's topics."""
    env = {
        "router": {"TRIAGE_ROUTER_POLICY_FILE": str(policy)},
        "sla-monitor": {
            "TRIAGE_SLA_MONITOR_POLICY_FILE": str(policy),
            "TRIAGE_SLA_MONITOR_TICK_SECONDS": "0.1",
            "TRIAGE_SLA_MONITOR_GAUGES_SECONDS": "0.5",
            "TRIAGE_SLA_MONITOR_TRANSACTIONAL_ID": f"e2e-{uuid.uuid4().hex[:10]}",
        },
    }
    for stage, values in (extra or {}).items():
        env.setdefault(stage, {}).update(values)
    started = await asyncio.gather(*(services.start(stage, env.get(stage), ready_timeout=120) for stage in STAGES))
    return dict(zip(STAGES, started, strict=True))
