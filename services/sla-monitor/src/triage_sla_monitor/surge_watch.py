"""Surge detection live: the volume partitions this replica owns, their watches on the
state topic, and the alerts they raise.

Reads ``social.sla-volume`` (see ``volume``) in its own consumer group, so each
dimension is counted by one replica. A batch's signals become ``surge_alert`` records
on ``social.sla-alerts`` and are written with the watches that record them as raised,
in one transaction, before the volume offsets are committed: a restart finds each
watch with its baseline, its open window and whether it is surging, so a surge is
neither raised twice nor lost. A redelivered volume record is recognised by the routed
record it came from (``Watch.seen``) and not counted again.

Windows close in the stream's time (the messages' own times), so a recorded stream
replays the same way. A dimension's volume comes from every routed partition, and after
a restart or a backlog one routed partition's records may come long before another's: a
dimension's window closes only when every routed partition has passed its end in that
dimension (the smallest of their latest times, a watermark), leaving out a routed
partition silent for ``surge_idle_seconds``; when all are silent, time moves on with the
wall clock, so a surge still ends when the inbox goes quiet.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from aiokafka import ConsumerRebalanceListener, TopicPartition
from prometheus_client import Counter, Gauge

from triage_runtime.delivery import Inbound, Outbound, Rejected
from triage_runtime.logs import log_event
from triage_schemas.enums import IssueType, SurgeDimension, SurgeKind
from triage_schemas.policy import SurgePolicy
from triage_schemas.records import IssueTypeCount, SurgeAlert
from triage_sla_monitor import state, volume
from triage_sla_monitor.monitor import Monitor
from triage_sla_monitor.recovery import committed_state
from triage_sla_monitor.surges import Dimension, Signal, SurgeDetector, campaigns_for, planned_by

WINDOW_COUNT = Gauge(
    "triage_surge_window_count", "Inbound messages in the current surge window", ["dimension", "value"]
)
EXPECTED = Gauge(
    "triage_surge_expected",
    "What the baseline expects for the current surge window (0 while it is still learned)",
    ["dimension", "value"],
)
ACTIVE = Gauge("triage_surge_active", "1 while a volume surge is open on the dimension", ["dimension", "value"])
ALERTS = Counter("triage_surge_alerts_total", "Surge alerts raised", ["kind", "dimension"])
FUTURE_SKEW = 60.0  # a message stamped later than this ahead of our clock counts as now


def surge_alert(signal: Signal, rules: SurgePolicy, campaigns: Sequence[str] = ()) -> SurgeAlert:
    kind, value = signal.dimension
    start = int(signal.window_start)
    return SurgeAlert(
        alert_id=f"{signal.kind.value}:{kind}:{value}:{start}",
        kind=signal.kind,
        severity=rules.severity_of(signal.kind),
        dimension=SurgeDimension(kind),
        value=value,
        count=signal.count,
        expected=round(signal.expected, 2),
        window_start=datetime.fromtimestamp(signal.window_start, UTC),
        window_seconds=rules.cluster_within if signal.kind is SurgeKind.P1_CLUSTER else rules.window,
        at=datetime.fromtimestamp(signal.at, UTC),
        top_issue_types=[
            IssueTypeCount(issue_type=IssueType(name), count=count)
            for name, count in signal.top
            if name in IssueType.__members__.values()
        ],
        campaigns=list(campaigns),
    )


class SurgeWatch:
    """The watches of the volume partitions this replica owns."""

    def __init__(self, monitor: Monitor, source_partitions: int) -> None:
        self.monitor = monitor
        self.source_partitions = source_partitions
        sla = monitor.policy.sla
        self.rules = sla.surges
        self.campaigns = sla.campaigns
        self.detector = SurgeDetector(self.rules, planned_by(sla.campaigns))
        self.partition_of: dict[Dimension, int] = {}
        self.pending: list[SurgeAlert] = []
        self.owned: set[int] = set()
        # per dimension, per routed partition: [latest message time, when heard (wall clock)]
        self.marks: dict[Dimension, dict[int, list[float]]] = {}
        self.started_at = time.time()
        self.state_topic = monitor.settings.topics.sla_state
        self.alerts_topic = monitor.settings.topics.sla_alerts
        self._task: asyncio.Task[None] | None = None
        self.restored = asyncio.Event()  # the assigned partitions' watches are back: volume may be counted
        for kind in SurgeKind:
            for dimension in SurgeDimension:
                ALERTS.labels(kind.value, dimension.value)  # every series from the start, at 0

    # --- counting ----------------------------------------------------------------------

    def on_volume(self, inbound: Inbound) -> Sequence[Outbound]:
        """One volume record: each message in it counted once, its signals kept for the
        batch's transaction."""
        try:
            items = volume.load(inbound.value)
        except (ValueError, KeyError, TypeError) as error:
            raise Rejected(f"not a volume record: {type(error).__name__}: {str(error)[:200]}") from None
        if not items:
            return []
        now = time.time()
        partition = inbound.partition or 0
        dimension = (items[0].dimension.value, items[0].value)
        self.partition_of[dimension] = partition
        mark = self.marks.setdefault(dimension, {}).setdefault(items[0].source_partition, [items[0].at, now])
        signals: list[Signal] = []
        watch = self.detector.watches.get(dimension)
        for item in items:
            if watch is not None and item.source_offset <= watch.seen.get(item.source_partition, -1):
                continue  # already counted: its routed record was read twice
            at = min(item.at, now + FUTURE_SKEW)  # a clock far ahead must not close every window
            mark[0] = max(mark[0], at)
            signals.extend(self.detector.count(dimension, at, item.issue_type, item.negative))
            watch = self.detector.watches[dimension]
            watch.seen[item.source_partition] = item.source_offset
        mark[1] = now
        signals.extend(self._advance(dimension, now))
        self._raise(signals)
        return []

    def watermark(self, dimension: Dimension, now: float) -> float | None:
        """How far a dimension's time has surely come: the smallest latest time of the
        routed partitions heard lately; None while one that has not been silent for long
        is still unheard. Per dimension, because only one dimension's own records come in
        their routed partitions' order (a batch's records of several dimensions sharing a
        volume partition are written one dimension after another)."""
        idle = self.monitor.settings.surge_idle_seconds
        heard = self.marks.get(dimension, {})
        if not heard:
            return None
        live = [at for at, when in heard.values() if now - when < idle]
        if live:
            if len(heard) < self.source_partitions and now - self.started_at < idle:
                return None  # a routed partition not heard since the start may still be behind
            return min(live)
        at, when = max(heard.values())
        return at + (now - when)  # all quiet: time goes on with the wall clock

    def _advance(self, dimension: Dimension, now: float) -> list[Signal]:
        watermark = self.watermark(dimension, now)
        if watermark is None:
            return []
        return self.detector.advance(watermark, [dimension])

    def idle_advance(self, now: float) -> None:
        """Close the windows a quiet spell has ended."""
        for dimension in list(self.marks):
            self._raise(self._advance(dimension, now))

    def _raise(self, signals: list[Signal]) -> None:
        for signal in signals:
            names = [c.name for c in campaigns_for(self.campaigns, signal.dimension, signal.window_start)]
            self.pending.append(surge_alert(signal, self.rules, names))

    # --- persistence -------------------------------------------------------------------

    async def persist(self, _: Sequence[Inbound] = ()) -> None:
        """Write the batch's alerts with the watches that record them, then let the offsets go."""
        monitor = self.monitor
        if not self.detector.touched and not self.pending:
            return
        async with monitor.lock:
            # Taken and serialised with no await in between: a record counted meanwhile
            # cannot raise an alert that its watch's state would already record as sent.
            alerts, self.pending = self.pending, []
            touched = {d for d in self.detector.touched if d in self.partition_of}
            self.detector.touched -= touched
            outputs = [
                (self.alerts_topic, f"{a.dimension.value}:{a.value}".encode(), a.to_json_bytes(), None) for a in alerts
            ] + [
                (self.state_topic, state.watch_key(d).encode(), state.dump_watch(self.detector.watches[d]),
                 self.partition_of[d])
                for d in touched
            ]  # fmt: skip
            assert monitor.producer is not None
            try:
                async with monitor.producer.transaction():
                    for topic, key, value, partition in outputs:
                        await monitor.producer.send(topic, key=key, value=value, partition=partition)
            except BaseException:
                self.pending[:0] = alerts
                self.detector.touched |= touched
                raise
        for dimension in touched:
            self._gauges(dimension)
        for alert in alerts:
            ALERTS.labels(alert.kind.value, alert.dimension.value).inc()
            log_event(
                monitor.logger, "surge_alert", kind=alert.kind.value, dimension=alert.dimension.value,
                value=alert.value, count=alert.count, expected=alert.expected,
            )  # fmt: skip
            if monitor.alertmanager is not None:
                monitor.alertmanager.surge(alert, self.rules)

    def _gauges(self, dimension: Dimension) -> None:
        watch = self.detector.watches[dimension]
        window = watch.windows[min(watch.windows)] if watch.windows else None  # the oldest open one
        WINDOW_COUNT.labels(*dimension).set(window.count if window is not None else 0)
        expected = self.detector.expected(dimension, window.start if window is not None else watch.closed_until)
        EXPECTED.labels(*dimension).set(expected or 0.0)
        ACTIVE.labels(*dimension).set(int(watch.surging))

    # --- partitions --------------------------------------------------------------------

    async def assigned(self, partitions: set[int]) -> None:
        """Drop the watches of partitions gone elsewhere; restore those of new ones."""
        monitor = self.monitor
        async with monitor.lock:
            for dimension in [d for d, p in self.partition_of.items() if p not in partitions]:
                del self.partition_of[dimension]
                self.detector.watches.pop(dimension, None)
                self.detector.touched.discard(dimension)
            for dimension in [d for d in self.marks if d not in self.partition_of]:
                del self.marks[dimension]
            new = partitions - self.owned
            restored = await self._restore(new)
            self.owned = set(partitions)
        self.restored.set()
        for dimension in self.partition_of:
            self._gauges(dimension)
        log_event(monitor.logger, "surge_partitions_assigned", partitions=sorted(partitions), restored=restored)

    async def revoked(self) -> None:
        self.restored.clear()
        await self.persist()

    async def _restore(self, partitions: set[int]) -> int:
        restored: set[Dimension] = set()
        state_records = committed_state(self.monitor.settings.kafka, self.state_topic, partitions)
        async with contextlib.aclosing(state_records) as records:
            async for record in records:
                key = record.key.decode("utf-8", "replace") if record.key is not None else ""
                dimension = state.watch_dimension(key)
                if dimension is None or record.value is None:
                    continue
                try:
                    self.detector.watches[dimension] = state.load_watch(record.value)
                except (ValueError, KeyError, TypeError) as error:
                    log_event(self.monitor.logger, "bad_watch_record", logging.WARNING, error=type(error).__name__)
                    continue
                self.partition_of[dimension] = record.partition
                restored.add(dimension)
        return len(restored)

    # --- quiet spells ------------------------------------------------------------------

    async def _idle_loop(self) -> None:
        while True:
            await asyncio.sleep(min(5.0, self.monitor.settings.surge_idle_seconds))
            self.idle_advance(time.time())
            try:
                await self.persist()
            except Exception as error:  # the next batch or tick tries again
                log_event(self.monitor.logger, "surge_persist_failed", logging.ERROR, error=type(error).__name__)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._idle_loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class SurgePartitions(ConsumerRebalanceListener):  # type: ignore[misc]
    """Restores and drops watches as the surge consumer group moves volume partitions."""

    def __init__(self, watch: SurgeWatch, topic: str) -> None:
        self.watch = watch
        self.topic = topic

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.watch.revoked()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.watch.assigned({tp.partition for tp in assigned if tp.topic == self.topic})
