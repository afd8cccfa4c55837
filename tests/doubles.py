"""A stand-in for the broker's producer side, for unit tests of the delivery step.

It answers ``publish(..., no_confirm=True)`` the way FastStream's Kafka broker does:
with a future that resolves when the record is acknowledged. Sends can be made to
fail, so tests can show what a failed publish leaves behind. Everything that crosses
a topic is also tested on the real broker (tests/integration).
"""

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class SimulatedSendError(ConnectionError):
    pass


@dataclass
class Sent:
    topic: str
    key: bytes
    value: bytes

    def json(self) -> Any:
        return json.loads(self.value)


@dataclass
class RecordingBroker:
    """Records what was acknowledged; ``fail_when(sent)`` decides which sends fail."""

    fail_when: Callable[[Sent], bool] = lambda _: False
    acknowledged: list[Sent] = field(default_factory=list)
    attempts: int = 0

    async def publish(
        self,
        value: bytes,
        *,
        topic: str,
        key: bytes,
        headers: dict[str, str] | None = None,
        no_confirm: bool = False,
    ) -> Any:
        self.attempts += 1
        sent = Sent(topic, key, value)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.fail_when(sent):
            future.set_exception(SimulatedSendError(f"simulated: {topic} unreachable"))
        else:
            self.acknowledged.append(sent)
            future.set_result(None)
        if no_confirm:
            return future
        return await future

    def on(self, topic: str) -> list[Sent]:
        return [sent for sent in self.acknowledged if sent.topic == topic]


def fail_first(count: int) -> Callable[[Sent], bool]:
    """A broker that is down for the first ``count`` sends, then back."""
    left = {"n": count}

    def fail(_: Sent) -> bool:
        if left["n"] > 0:
            left["n"] -= 1
            return True
        return False

    return fail
