"""The timer loop: due alerts fire, each with its clock's new state in one transaction;
the gauges are recomputed every few seconds."""

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from pydantic import ValidationError

from triage_runtime import tracing
from triage_runtime.jsonlines import validation_summary
from triage_runtime.logs import log_event
from triage_schemas.records import DeadLetter, utcnow
from triage_sla_monitor.clock import BIT, Alert
from triage_sla_monitor.inputs import SEVERITY, alert_record
from triage_sla_monitor.monitor import Monitor
from triage_sla_monitor.recovery import ClockState

# Alerts that need a person now go to Alertmanager too; warnings and reminders stay on the topic.
PAGED = {kind for kind, severity in SEVERITY.items() if severity.value == "critical"}


def _trace_headers(
    spans: tracing.Sends | None, alerts: list[Alert], outputs: list[tuple[str, bytes, bytes]], dlq: str
) -> list[dict[str, Any]]:
    """Each alert's extra ``send`` arguments: with tracing on, the headers with the
    traceparent of a publish span that continues the trace of the message that started
    its clock; off, nothing."""
    if spans is None:
        return [{}] * len(outputs)
    return [
        {"headers": spans.start(topic, alert.traceparent, "dead_letter" if topic == dlq else "sla_alert",
                                # bounded values from the policy, never ids or text
                                {"triage.alert.kind": alert.kind.value, "triage.lane": alert.subject.lane,
                                 "triage.priority": alert.subject.priority})}
        for alert, (topic, _, _) in zip(alerts, outputs, strict=True)
    ]  # fmt: skip


class AlertTimer:
    def __init__(self, monitor: Monitor, clock_state: ClockState) -> None:
        self.monitor = monitor
        self.clock_state = clock_state
        self._tasks: list[asyncio.Task[None]] = []

    async def fire_due(self, now: float) -> list[Alert]:
        """Fire due alerts; each alert and its clock's new state are one transaction."""
        monitor = self.monitor
        async with monitor.lock:
            if not monitor.firing:
                return []
            alerts = monitor.store.fire(now)
            if not alerts:
                return []
            assert monitor.producer is not None
            outputs = [self._output(alert) for alert in alerts]
            spans = tracing.sends("sla-monitor")  # None when tracing is off
            traced = _trace_headers(spans, alerts, outputs, monitor.settings.topics.dlq)
            try:
                async with monitor.producer.transaction():
                    for (topic, key, value), options in zip(outputs, traced, strict=True):
                        await monitor.producer.send(topic, key=key, value=value, **options)
                    for cid in {a.conversation_id for a in alerts}:
                        await self.clock_state.send(cid)
            except Exception as error:
                if spans is not None:
                    spans.end(error)
                # not sent: take the marks back so the next tick tries again
                for alert in alerts:
                    clock = monitor.store.clocks.get(alert.conversation_id)
                    if clock is not None and clock.number == alert.clock_number:
                        clock.alerts_sent &= ~BIT[alert.kind]
                        monitor.store.restore(clock)
                log_event(monitor.logger, "alert_publish_failed", logging.ERROR, error=type(error).__name__)
                return []
            for cid in {a.conversation_id for a in alerts}:
                clock = monitor.store.clocks.get(cid)
                if clock is not None and monitor.store.finished(clock):  # its last reminder went out
                    monitor.store.forget(cid)
                    monitor.partition_of.pop(cid, None)
        sent = [
            (index, alert) for index, (alert, (topic, _, _)) in enumerate(zip(alerts, outputs, strict=True))
            if topic != monitor.settings.topics.dlq
        ]  # fmt: skip
        for index, alert in sent:
            monitor.figures.alert(alert)
            with spans.current(index) if spans is not None else contextlib.nullcontext():  # the line gets the trace id
                log_event(
                    monitor.logger, "sla_alert", kind=alert.kind.value, lane=alert.subject.lane,
                    priority=alert.subject.priority, lateness_seconds=round(now - alert.due_at, 3),
                )  # fmt: skip
            if monitor.alertmanager is not None and alert.kind in PAGED:
                monitor.alertmanager.fire(alert)
        if spans is not None:
            spans.end()
        return [alert for _, alert in sent]

    def _output(self, alert: Alert) -> tuple[str, bytes, bytes]:
        """The alert as a record for social.sla-alerts, or, when it cannot be written (an
        alert due after 2100), a dead letter saying so: sent in the same transaction as the
        clock that marks it done, so it is neither retried forever nor lost silently."""
        monitor = self.monitor
        key = alert.conversation_id.encode()
        try:
            return monitor.settings.topics.sla_alerts, key, alert_record(alert).to_json_bytes()
        except (ValueError, OverflowError) as error:
            reason = validation_summary(error) if isinstance(error, ValidationError) else str(error)
            log_event(monitor.logger, "alert_unwritable", logging.ERROR, kind=alert.kind.value, reason=reason[:300])
            original = json.dumps({"alert_id": alert.alert_id, "kind": alert.kind.value, "due_at": alert.due_at})
            letter = DeadLetter(
                stage="sla-monitor",
                error=f"its {alert.kind.value} alert cannot be written: {reason}"[:2_000],
                original=original,
                source_topic=monitor.settings.topics.sla_state,
                at=utcnow(),
            )
            return monitor.settings.topics.dlq, key, letter.to_json_bytes()

    async def _fire_loop(self) -> None:
        while True:
            await self.fire_due(time.time())
            await asyncio.sleep(self.monitor.settings.tick_seconds)

    async def _gauge_loop(self) -> None:
        while True:
            self.monitor.figures.refresh(self.monitor.store, time.time())
            await asyncio.sleep(self.monitor.settings.gauges_seconds)

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._fire_loop()), asyncio.create_task(self._gauge_loop())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
