"""Every handler case runs twice: in memory (TestKafkaBroker) and on the real broker.

The ``mode`` fixture is parametrised ``memory`` / ``kafka``; the ``kafka`` variant carries
the ``kafka`` marker, so ``make test-unit`` (``-m "not kafka"``) runs the in-memory
variants and ``make test`` runs both. The real-broker variant fails, never skips, when
no broker can be had (the session's ``kafka_bootstrap`` fixture).
"""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import pytest

from tests.handlers.harness import MODES, Mode, RunningService, ServiceSpec, run_service
from tests.harness import KafkaHarness, unique_topics
from triage_runtime.topics import TopicSettings

# Nothing listens here: a memory-mode case that opened a Kafka connection would fail on it.
NO_BROKER = "127.0.0.1:9"

Start = Callable[..., AbstractAsyncContextManager[RunningService]]


@pytest.fixture(params=[pytest.param(m, marks=[pytest.mark.kafka] if m == "kafka" else []) for m in MODES])
def mode(request: pytest.FixtureRequest) -> Mode:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def bootstrap(mode: Mode, request: pytest.FixtureRequest) -> str:
    if mode == "memory":
        return NO_BROKER
    return request.getfixturevalue("kafka_bootstrap")  # type: ignore[no-any-return]


@pytest.fixture
async def handler_topics(mode: Mode, bootstrap: str) -> AsyncIterator[TopicSettings]:
    """Topic names of the test's own; on the real broker they are created, then deleted."""
    topics = unique_topics()
    if mode == "memory":
        yield topics
        return
    harness = KafkaHarness(bootstrap, topics)
    await harness.create_topics()
    try:
        yield topics
    finally:
        await harness.delete_topics()


@pytest.fixture
def start(mode: Mode, bootstrap: str, handler_topics: TopicSettings, monkeypatch: pytest.MonkeyPatch) -> Start:
    """``async with start(SPEC, env) as service:`` runs the service's app in this test's mode."""

    def start(spec: ServiceSpec, env: dict[str, str] | None = None) -> AbstractAsyncContextManager[RunningService]:
        return run_service(spec, mode, monkeypatch, bootstrap, handler_topics, env)

    return start
