"""The timer loop's transaction, without Kafka: an alert that cannot be written (due after
2100) becomes one dead letter in the same transaction as its clock, and is not retried."""

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from triage_schemas.policy import ClockPolicy
from triage_sla_monitor.clock import Subject
from triage_sla_monitor.config import SlaMonitorSettings
from triage_sla_monitor.monitor import Monitor
from triage_sla_monitor.recovery import ClockState
from triage_sla_monitor.timers import AlertTimer


class TransactionalProducer:
    """Records what each committed transaction sent."""

    def __init__(self) -> None:
        self.committed: list[list[tuple[str, bytes | None]]] = []
        self._open: list[tuple[str, bytes | None]] | None = None

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        self._open = []
        yield
        self.committed.append(self._open)
        self._open = None

    async def send(self, topic: str, key: bytes, value: bytes | None, partition: int | None = None) -> Any:
        assert self._open is not None, "sent outside a transaction"
        self._open.append((topic, value))


def monitor() -> tuple[Monitor, AlertTimer, TransactionalProducer]:
    m = Monitor(SlaMonitorSettings(), ClockPolicy(), logging.getLogger("test"))
    producer = TransactionalProducer()
    m.producer = producer  # type: ignore[assignment]
    m.firing = True
    return m, AlertTimer(m, ClockState(m)), producer


def subject(target: int) -> Subject:
    return Subject("support", "P2", "payment_issue", "support-lead", 1, "x", "direct_message", target)


async def test_an_alert_due_after_2100_is_a_dead_letter_sent_once_and_others_still_fire() -> None:
    m, timer, producer = monitor()
    start = datetime(2099, 12, 31, 23, 0, tzinfo=UTC).timestamp()
    m.store.customer_message("late", start, subject(7200))  # warns at 00:36 in 2100: no record can say so
    m.store.customer_message("fine", start, subject(600))
    sent = await timer.fire_due(datetime(2099, 12, 31, 23, 59, tzinfo=UTC).timestamp())
    assert sorted(a.kind.value for a in sent if a.conversation_id == "fine") == ["breach", "escalation", "warning"]
    assert await timer.fire_due(float("inf")) == []  # the late clock's alerts: none could be written
    letters = [json.loads(v) for t in producer.committed for topic, v in t if topic == m.settings.topics.dlq and v]
    assert sorted(letter["error"].split(":")[0] for letter in letters) == [
        "its breach alert cannot be written",
        "its escalation alert cannot be written",
        "its warning alert cannot be written",
    ]
    assert await timer.fire_due(float("inf")) == []  # nothing retried
    assert len(producer.committed) == 2  # each batch of alerts with its clocks, in one transaction
