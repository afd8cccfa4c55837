"""SIGTERM while traffic flows: the service finishes and commits what it has in hand,
exits 0 in bounded time, and after a restart every message still comes out once."""

import asyncio
import secrets
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import ServiceFactory
from tests.e2e.conftest import policy_with_targets, start_pipeline
from tests.harness import KafkaHarness, json_lines
from triage_local.payloads import Customer, messenger_dm
from triage_schemas import RawEnvelope

pytestmark = pytest.mark.kafka

MESSAGES = 750
RATE = 25.0  # per second: the restarts happen while messages keep arriving
SHUTDOWN_BOUND = 25.0  # seconds: the default TRIAGE_<SERVICE>_SHUTDOWN_TIMEOUT_SECONDS is 20


async def test_restarting_stages_mid_stream_loses_and_repeats_nothing(
    kafka: KafkaHarness, services: ServiceFactory, tmp_path: Path
) -> None:
    policy = policy_with_targets(tmp_path / "policy.yaml", {})
    pipeline = await start_pipeline(services, policy)
    routed_reader = await kafka.consumer(kafka.topics.routed)
    authors = [f"{7_700_000 + n}" for n in range(MESSAGES)]

    async def customers() -> None:
        for n, author in enumerate(authors):
            customer = Customer(author, f"shopper_{n}", "Shopper", 10)
            text = f"hi, my order #NW-{40000 + n} hasn't arrived yet, can you check?"
            event = messenger_dm(secrets.token_hex(8), customer, text, datetime.now(UTC))
            envelope = RawEnvelope(platform=event.platform, received_at=datetime.now(UTC), payload=event.payload)
            await kafka.produce(kafka.topics.raw, envelope, key=f"messenger:{author}")
            await asyncio.sleep(1 / RATE)

    traffic = asyncio.create_task(customers())
    seen = await kafka.consume(kafka.topics.routed, 40, 120, routed_reader)
    for stage in ("classifier", "router", "ingest"):
        process = pipeline[stage]
        started = time.monotonic()
        code = process.stop(signal.SIGTERM, timeout=SHUTDOWN_BOUND + 5)
        stopped_in = time.monotonic() - started
        assert code == 0, f"{stage} exited {code} on SIGTERM: {process.log_tail()}"
        assert stopped_in < SHUTDOWN_BOUND, f"{stage} took {stopped_in:.1f}s to stop"
        assert not traffic.done(), "traffic ended before every stage was restarted"
        pipeline[stage] = await services.start(stage, process.env, ready_timeout=120)
        seen += await kafka.consume(kafka.topics.routed, 20, 120, routed_reader)
    await traffic

    remaining = MESSAGES - len(seen)
    if remaining > 0:
        seen += await kafka.consume(kafka.topics.routed, remaining, 120, routed_reader)
    seen += await kafka.drain(routed_reader)
    out = [record["author"]["id"] for record in json_lines(seen)]
    assert sorted(set(out)) == sorted(authors), f"lost {len(set(authors) - set(out))} messages"
    assert len(out) == len(set(out)), f"{len(out) - len(set(out))} messages came out twice"
    assert await kafka.drain(await kafka.consumer(kafka.topics.dlq), quiet_ms=500) == []
