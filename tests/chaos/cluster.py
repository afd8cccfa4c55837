"""The chaos suite's machinery: the steady load of realistic platform events, the faults,
and the counting, on the shared cluster machinery (tests/cluster.py: the broker of the
suite's own, the four services as processes, the envelopes).

Nothing here waits a fixed time for an event: every wait polls an output (the observed
topics, the consumer groups' committed offsets) until a condition holds or a deadline
passes. The only timed sleeps are the steady-rate pacing of the load, the sampling
period of the lag sampler and the backoff between retries of a send that failed.
"""

import asyncio
import base64
import contextlib
import json
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from tests.chaos import poison

# Re-exported: the chaos suite reaches the shared machinery through this module.
from tests.cluster import REPO as REPO
from tests.cluster import STAGES as STAGES
from tests.cluster import Broker as Broker
from tests.cluster import Services, cpu_seconds, demo_envelope
from tests.cluster import machine_busy as machine_busy
from tests.cluster import until as until
from triage_local.demo import service_env
from triage_router.policy import DEMO_POLICY
from triage_runtime.kafka import KafkaSettings, ensure_topics
from triage_runtime.topics import TopicSettings
from triage_schemas.policy import AlertFractions

TOPICS = TopicSettings()
# The consumer group of each stage (the services' defaults) and the topics it reads.
GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ingest": ("triage-ingest", (TOPICS.raw,)),
    "classifier": ("triage-classifier", (TOPICS.messages,)),
    "router": ("triage-router", (TOPICS.classified,)),
    "sla-monitor": ("triage-sla-monitor", (TOPICS.routed, TOPICS.conversation_events)),
}
FRACTIONS = AlertFractions()
ALERT_KINDS = {"warning": FRACTIONS.warning, "breach": FRACTIONS.breach, "escalation": FRACTIONS.escalation}
TOKEN = re.compile(rb"\[cx(\d{6})\]")


def now() -> float:
    # Wall-clock seconds: the services put wall-clock times in their records (due_at, at).
    return time.time()


# --- services ----------------------------------------------------------------------------


def chaos_policy(path: Path, target_seconds: int) -> Path:
    """The demo policy with every first-response target (and fallback) set to ``target_seconds``,
    so every clock warns, breaches and escalates within the run."""
    policy = yaml.safe_load(DEMO_POLICY.read_text())
    policy["version"] = f"chaos-{target_seconds}s"
    sla = policy["sla"]
    sla["targets"] = {
        issue: (None if value is None else f"{target_seconds}s") for issue, value in sla["targets"].items()
    }
    sla["fallback"] = {lane: dict.fromkeys(levels, f"{target_seconds}s") for lane, levels in sla["fallback"].items()}
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return path


class Pipeline(Services):
    """The four services, each its own process, on the chaos broker with the default topics."""

    def __init__(self, bootstrap: str, log_dir: Path, policy: Path, run_id: str) -> None:
        super().__init__(bootstrap, TOPICS, log_dir)
        self.policy = policy
        self.run_id = run_id

    def env(self, stage: str) -> dict[str, str]:
        env = {**super().env(stage), **service_env(stage)}
        if stage == "router":
            env["TRIAGE_ROUTER_POLICY_FILE"] = str(self.policy)
        if stage == "sla-monitor":
            env |= {
                # stable across restarts, so the restarted monitor fences and aborts the killed one's transaction
                "TRIAGE_SLA_MONITOR_TRANSACTIONAL_ID": f"chaos-sla-{self.run_id}",
                "TRIAGE_SLA_MONITOR_TRANSACTION_TIMEOUT_SECONDS": "10",
                "TRIAGE_SLA_MONITOR_TICK_SECONDS": "0.1",
                "TRIAGE_SLA_MONITOR_GAUGES_SECONDS": "1",
            }
        return env


async def create_topics(bootstrap: str) -> None:
    await ensure_topics(KafkaSettings(bootstrap_servers=bootstrap), TOPICS)


# --- load --------------------------------------------------------------------------------


@dataclass
class Good:
    seq: int
    kind: str
    sent_at: float
    acked_at: float | None = None


@dataclass
class PoisonSent:
    pid: int
    topic: str
    kind: str
    sent_at: float
    acked_at: float | None = None


def good_record(seq: int) -> tuple[str, str, bytes]:
    """(event kind, key, envelope bytes) of good message ``seq``: a demo platform event whose
    text carries ``[cxNNNNNN]``, which every stage keeps, so its arrival on social.routed is seen."""
    return demo_envelope(seq, f"[cx{seq:06d}]", "chaos")


class Load:
    """``total`` slots at ``rate`` per second. A slot sends one good raw envelope, except while
    poison goes to social.raw (every 20th slot sends a poison envelope instead) or to
    social.messages (every 19th slot also sends a poison message): 5 % of either topic."""

    RAW_EVERY = 20
    MESSAGES_EVERY = 19

    def __init__(self, bootstrap: str, total: int, rate: float, changed: asyncio.Condition) -> None:
        self.bootstrap = bootstrap
        self.total = total
        self.rate = rate
        self.changed = changed
        self.slot = 0
        self.poison_topic: str | None = None
        self.poison_key: Callable[[], str] = lambda: "chaos-poison"
        self._poison_run = 0
        self.goods: dict[int, Good] = {}
        self.poisons: dict[int, PoisonSent] = {}
        self.send_retries = 0
        self.finished_at: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self.producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            max_request_size=2_000_000,  # the oversized poison message is just under Kafka's 1 MiB record limit
            request_timeout_ms=60_000,  # long enough to ride out the broker restart without failing a send
        )
        await self.producer.start()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self.producer is not None:
            with contextlib.suppress(Exception):
                await self.producer.stop()

    def poison_on(self, topic: str | None) -> None:
        self.poison_topic = topic
        self._poison_run = 0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        for slot in range(self.total):
            delay = started + slot / self.rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)  # the steady rate
            self._send_slot(slot)
            self.slot = slot + 1
            async with self.changed:
                self.changed.notify_all()
        self.finished_at = now()

    def _send_slot(self, slot: int) -> None:
        self._poison_run += 1
        if self.poison_topic == TOPICS.raw and self._poison_run % self.RAW_EVERY == 0:
            self._send_poison(TOPICS.raw, poison.RAW)
            return
        if self.poison_topic == TOPICS.messages and self._poison_run % self.MESSAGES_EVERY == 0:
            self._send_poison(TOPICS.messages, poison.MESSAGES)
        kind, key, value = good_record(slot)
        good = self.goods[slot] = Good(slot, kind, now())
        self._spawn(TOPICS.raw, key, value, {}, lambda at: setattr(good, "acked_at", at))

    def _send_poison(self, topic: str, builders: dict[str, poison.Builder]) -> None:
        pid = len(self.poisons) + 1
        kind = list(builders)[pid % len(builders)]
        sent = self.poisons[pid] = PoisonSent(pid, topic, kind, now())
        value = builders[kind](pid)
        self._spawn(
            topic, self.poison_key(), value, {poison.HEADER: str(pid)}, lambda at: setattr(sent, "acked_at", at)
        )

    def _spawn(
        self, topic: str, key: str, value: bytes, headers: dict[str, str], acked: Callable[[float], None]
    ) -> None:
        task = asyncio.create_task(self._deliver(topic, key, value, headers, acked))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(
        self, topic: str, key: str, value: bytes, headers: dict[str, str], acked: Callable[[float], None]
    ) -> None:
        assert self.producer is not None
        encoded = [(name, raw.encode()) for name, raw in headers.items()]
        while True:
            try:
                await self.producer.send_and_wait(topic, value, key=key.encode(), headers=encoded)
            except KafkaError:
                # a send that outlived the broker restart: send it again (ingest drops repeats by message id)
                self.send_retries += 1
                await asyncio.sleep(0.5)
                continue
            acked(now())
            return

    def unacked(self) -> int:
        return sum(g.acked_at is None for g in self.goods.values()) + sum(
            p.acked_at is None for p in self.poisons.values()
        )


# --- observing the outputs ---------------------------------------------------------------


@dataclass
class Routed:
    arrived_at: float
    message_id: str
    conversation_id: str
    created_at: float
    target_seconds: int | None
    clock: bool  # an SLA clock runs (spam has none)


@dataclass
class Dead:
    arrived_at: float
    stage: str
    error: str
    source_topic: str | None


@dataclass
class AlertSeen:
    alert_id: str
    conversation_id: str
    kind: str
    at: float
    due_at: float
    arrived_at: float


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


class Observer:
    """Reads social.routed, social.dlq and (read_committed) social.sla-alerts from the
    beginning, outside any group, and keeps what the report counts."""

    def __init__(self, bootstrap: str, changed: asyncio.Condition) -> None:
        self.bootstrap = bootstrap
        self.changed = changed
        self.routed: dict[int, list[Routed]] = defaultdict(list)
        self.routed_poison: Counter[int] = Counter()
        self.routed_other = 0
        self.dead_poison: dict[int, list[Dead]] = defaultdict(list)
        self.dead_good: dict[int, list[Dead]] = defaultdict(list)
        self.dead_other: list[Dead] = []
        self.alerts: list[AlertSeen] = []
        self.surges: list[dict[str, Any]] = []
        self.last_conversation: str | None = None
        self.seen_offsets: dict[TopicPartition, int] = {}  # next offset after the last one read
        self._consumers: list[AIOKafkaConsumer] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        readers: list[tuple[str, bool, Callable[[bytes, dict[str, str]], None]]] = [
            (TOPICS.routed, False, self._on_routed),
            (TOPICS.dlq, False, self._on_dead),
            (TOPICS.sla_alerts, True, self._on_alert),
        ]
        for topic, committed, handle in readers:
            consumer = AIOKafkaConsumer(
                topic,
                bootstrap_servers=self.bootstrap,
                group_id=None,
                auto_offset_reset="earliest",
                enable_auto_commit=False,
                isolation_level="read_committed" if committed else "read_uncommitted",
                fetch_max_bytes=8 * 1024 * 1024,
                max_partition_fetch_bytes=2 * 1024 * 1024,
            )
            await consumer.start()
            self._consumers.append(consumer)
            self._tasks.append(asyncio.create_task(self._read(consumer, handle)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for consumer in self._consumers:
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _read(self, consumer: AIOKafkaConsumer, handle: Callable[[bytes, dict[str, str]], None]) -> None:
        while True:
            try:
                batches = await consumer.getmany(timeout_ms=500)
            except KafkaError:
                continue  # the broker is away; the consumer reconnects on the next fetch
            for tp, records in batches.items():
                for record in records:
                    headers = {name: raw.decode("utf-8", "replace") for name, raw in (record.headers or ())}
                    handle(record.value or b"", headers)
                if records:
                    self.seen_offsets[tp] = records[-1].offset + 1
            if batches:
                async with self.changed:
                    self.changed.notify_all()

    def _on_routed(self, value: bytes, _: dict[str, str]) -> None:
        found = poison.MARKER.search(value)
        if found:
            self.routed_poison[int(found.group(1))] += 1
            return
        token = TOKEN.search(value)
        if token is None:
            self.routed_other += 1
            return
        record = json.loads(value)
        routing = record["routing"]
        self.routed[int(token.group(1))].append(
            Routed(
                arrived_at=now(),
                message_id=record["message_id"],
                conversation_id=record["conversation_id"],
                created_at=_epoch(record["created_at"]),
                target_seconds=routing.get("first_response_target_seconds"),
                clock=routing.get("first_response_due_at") is not None,
            )
        )
        self.last_conversation = record["conversation_id"]

    def _on_dead(self, value: bytes, headers: dict[str, str]) -> None:
        record = json.loads(value)
        original = record.get("original", "")
        raw = original.encode("utf-8", "surrogatepass")
        if record.get("original_encoding") == "base64":
            raw = base64.b64decode(original)
        dead = Dead(now(), record.get("stage", ""), record.get("error", ""), record.get("source_topic"))
        pid = poison.poison_id(raw, record.get("headers") or {})
        if pid is not None:
            self.dead_poison[pid].append(dead)
            return
        token = TOKEN.search(raw)
        if token is not None:
            self.dead_good[int(token.group(1))].append(dead)
        else:
            self.dead_other.append(dead)

    def _on_alert(self, value: bytes, _: dict[str, str]) -> None:
        record = json.loads(value)
        if record.get("record_type") == "surge_alert":
            self.surges.append(record)  # about the inbox, not one conversation's clock
            return
        self.alerts.append(
            AlertSeen(
                alert_id=record["alert_id"],
                conversation_id=record["conversation_id"],
                kind=record["kind"],
                at=_epoch(record["at"]),
                due_at=_epoch(record["due_at"]),
                arrived_at=now(),
            )
        )


class LagSampler:
    """Every half second: each stage group's lag (end offset minus committed offset, summed
    over its partitions), the end offsets of what the observer reads, and CPU use."""

    def __init__(self, bootstrap: str, changed: asyncio.Condition, pipeline: Pipeline, broker: Broker) -> None:
        self.bootstrap = bootstrap
        self.changed = changed
        self.pipeline = pipeline
        self.broker = broker
        self.lag: dict[str, int] | None = None  # None while the broker cannot answer
        self.sampled_at = 0.0
        self.ends: dict[TopicPartition, int] = {}
        self.samples: list[tuple[float, dict[str, int]]] = []
        self.broker_cpu: dict[int, float] = {}
        self._admin: AIOKafkaAdminClient | None = None
        self._offsets: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
        await self._admin.start()
        self._offsets = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, request_timeout_ms=5000)
        await self._offsets.start()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._admin is not None:
            with contextlib.suppress(Exception):
                await self._admin.close()
        if self._offsets is not None:
            with contextlib.suppress(Exception):
                await self._offsets.stop()

    async def _run(self) -> None:
        partitions = [
            TopicPartition(topic, p)
            for topic in {t for _, topics in GROUPS.values() for t in topics} | {TOPICS.routed, TOPICS.dlq}
            for p in range(TOPICS.partitions)
        ]
        while True:
            self._sample_cpu()
            try:
                async with asyncio.timeout(5):
                    self.lag, self.ends = await self._measure(partitions)
                self.sampled_at = now()
                self.samples.append((self.sampled_at, dict(self.lag)))
            except (KafkaError, TimeoutError, OSError):
                self.lag = None
            async with self.changed:
                self.changed.notify_all()
            await asyncio.sleep(0.5)  # the sampling period

    async def _measure(self, partitions: list[TopicPartition]) -> tuple[dict[str, int], dict[TopicPartition, int]]:
        assert self._admin is not None and self._offsets is not None
        ends: dict[TopicPartition, int] = await self._offsets.end_offsets(partitions)
        lag: dict[str, int] = {}
        for stage, (group, topics) in GROUPS.items():
            committed = await self._admin.list_consumer_group_offsets(group)
            lag[stage] = sum(
                max(0, end - (committed[tp].offset if tp in committed else 0))
                for tp, end in ends.items()
                if tp.topic in topics
            )
        return lag, ends

    def _sample_cpu(self) -> None:
        self.pipeline.sample_cpu()
        pid = self.broker.pid()
        if pid is not None:
            seconds = cpu_seconds(pid)
            if seconds is not None:
                self.broker_cpu[pid] = seconds

    def caught_up(self, thresholds: dict[str, int], since: float) -> bool:
        """Every stage's lag is within its threshold in a sample taken after ``since``."""
        return (
            self.lag is not None
            and self.sampled_at > since
            and all(self.lag[stage] <= limit for stage, limit in thresholds.items())
        )

    def observer_at_end(self, observer: Observer) -> bool:
        """The observer has read everything on social.routed and social.dlq."""
        return bool(self.ends) and all(
            observer.seen_offsets.get(tp, 0) >= end
            for tp, end in self.ends.items()
            if tp.topic in (TOPICS.routed, TOPICS.dlq)
        )


# --- the report --------------------------------------------------------------------------


@dataclass
class Fault:
    """One row of the report: the fault, when it began, and what happened around it."""

    name: str
    description: str
    started_at: float
    applied_at: float | None = None  # restarted and ready, or the last poison sent
    recovered_at: float | None = None
    down: tuple[float, float] | None = None  # when the SLA monitor was away (its kill row)
    duplicate_bound: int = 0
    lasting: bool = False  # poison: the fault lasts until applied_at, and recovery counts from then
    notes: list[str] = field(default_factory=list)

    @property
    def ran(self) -> bool:
        return not any(note.startswith("not run") for note in self.notes)

    @property
    def recovery_seconds(self) -> float | None:
        """From the kill (or the last poison record) until every stage had caught up."""
        if self.recovered_at is None:
            return None
        since = self.applied_at if self.lasting and self.applied_at is not None else self.started_at
        return round(self.recovered_at - since, 1)


@dataclass
class Row:
    fault: str
    good_sent: int = 0
    lost: int = 0
    lost_examples: list[int] = field(default_factory=list)
    good_dead_lettered: int = 0
    routed_duplicates: int = 0
    duplicate_bound: int = 0
    alerts_expected: int = 0
    alerts_missing: int = 0
    duplicate_alerts: int = 0
    alert_repeats: int = 0  # the same alert_id read more than once (allowed, dropped by id)
    poison_sent: int = 0
    poison_dead_lettered: int = 0
    poison_without_reason: int = 0
    poison_delivered: int = 0
    poison_missing: list[str] = field(default_factory=list)
    poison_reasons: dict[str, str] = field(default_factory=dict)
    neighbours_sent: int = 0
    neighbours_delivered: int = 0
    due_while_down: int = 0
    due_while_down_fired_once: int = 0
    max_lag: int = 0  # the most records the stages together were behind, sampled every half second
    recovery_seconds: float | None = None
    recovered: bool = True
    ran: bool = True
    measured: bool = True  # a fault, not the baseline or the tail


def phase_of(at: float, faults: list[Fault], lead: float) -> int:
    """Index of the fault row ``at`` belongs to; a fault's row starts ``lead`` seconds before
    it, so messages in flight when it struck count for it."""
    index = 0
    for i, fault in enumerate(faults):
        if fault.ran and at >= fault.started_at - lead:
            index = i
    return index


def build_report(
    faults: list[Fault],
    load: Load,
    observer: Observer,
    samples: list[tuple[float, dict[str, int]]],
    evaluated_at: float,
    in_flight: float,
) -> list[Row]:
    rows = [Row(f.name, duplicate_bound=f.duplicate_bound) for f in faults]
    for seq, good in load.goods.items():
        index = phase_of(good.sent_at, faults, in_flight)
        row, fault = rows[index], faults[index]
        row.good_sent += 1
        seen = observer.routed.get(seq, [])
        if not seen:
            row.lost += 1
            if len(row.lost_examples) < 10:
                row.lost_examples.append(seq)
        row.routed_duplicates += max(0, len(seen) - 1)
        row.good_dead_lettered += bool(observer.dead_good.get(seq))
        if fault.lasting and fault.started_at <= good.sent_at <= (fault.applied_at or evaluated_at):
            row.neighbours_sent += 1
            row.neighbours_delivered += bool(seen)

    for sent in load.poisons.values():
        row = rows[phase_of(sent.sent_at, faults, 0.0)]
        row.poison_sent += 1
        dead = observer.dead_poison.get(sent.pid, [])
        label = f"{sent.topic}/{sent.kind}"
        if dead:
            row.poison_dead_lettered += 1
            row.poison_without_reason += not all(d.error.strip() for d in dead)
            row.poison_reasons.setdefault(label, f"{dead[0].stage}: {dead[0].error[:160]}")
        elif label not in row.poison_missing:
            row.poison_missing.append(label)
        if observer.routed_poison.get(sent.pid):
            row.poison_delivered += 1

    _count_alerts(rows, faults, observer, evaluated_at, in_flight)
    for at, lag in samples:
        row = rows[phase_of(at, faults, 0.0)]
        row.max_lag = max(row.max_lag, sum(lag.values()))
    for row, fault in zip(rows, faults, strict=True):
        row.recovery_seconds = fault.recovery_seconds
        row.recovered = fault.recovered_at is not None
        row.ran = fault.ran
        row.measured = fault.name not in ("baseline", "tail")
    return rows


def expected_alerts(observer: Observer) -> dict[tuple[str, str], tuple[float, int]]:
    """(conversation, kind): (when it falls due, the message's sequence number), from what was routed."""
    expected: dict[tuple[str, str], tuple[float, int]] = {}
    for seq, seen in observer.routed.items():
        first = seen[0]
        if not first.clock or not first.target_seconds:
            continue
        for kind, fraction in ALERT_KINDS.items():
            expected[(first.conversation_id, kind)] = (first.created_at + fraction * first.target_seconds, seq)
    return expected


def _count_alerts(rows: list[Row], faults: list[Fault], observer: Observer, evaluated_at: float, lead: float) -> None:
    by_id: dict[str, list[AlertSeen]] = defaultdict(list)
    for alert in observer.alerts:
        by_id[alert.alert_id].append(alert)
    by_subject: dict[tuple[str, str], list[AlertSeen]] = defaultdict(list)
    for copies in by_id.values():
        first = min(copies, key=lambda a: a.at)
        by_subject[(first.conversation_id, first.kind)].append(first)
        if len(copies) > 1:
            rows[phase_of(first.at, faults, 0.0)].alert_repeats += len(copies) - 1
    for alerts in by_subject.values():
        if len(alerts) > 1:
            second = sorted(alerts, key=lambda a: a.at)[1]
            rows[phase_of(second.at, faults, 0.0)].duplicate_alerts += len(alerts) - 1
    for subject, (due, _seq) in expected_alerts(observer).items():
        if due > evaluated_at:
            continue
        row = rows[phase_of(due, faults, 0.0)]
        row.alerts_expected += 1
        row.alerts_missing += subject not in by_subject
    for row, fault in zip(rows, faults, strict=True):
        if fault.down is None:
            continue
        start, end = fault.down
        for subject, (due, _seq) in expected_alerts(observer).items():
            if start <= due <= end:
                row.due_while_down += 1
                row.due_while_down_fired_once += len(by_subject.get(subject, [])) == 1


COLUMNS = (
    ("fault", 18),
    ("sent", 6),
    ("lost", 5),
    ("dup routed", 11),
    ("dup alerts", 10),
    ("alerts missing", 14),
    ("poison in DLQ", 13),
    ("neighbours ok", 13),
    ("due while down", 14),
    ("max lag", 7),
    ("recover s", 9),
)


def table(rows: Iterable[Row]) -> str:
    def cells(row: Row) -> list[str]:
        return [
            row.fault,
            str(row.good_sent),
            str(row.lost),
            f"{row.routed_duplicates} (<={row.duplicate_bound})",
            str(row.duplicate_alerts),
            f"{row.alerts_missing}/{row.alerts_expected}",
            f"{row.poison_dead_lettered}/{row.poison_sent}" if row.poison_sent else "-",
            f"{row.neighbours_delivered}/{row.neighbours_sent}" if row.neighbours_sent else "-",
            f"{row.due_while_down_fired_once}/{row.due_while_down}" if row.due_while_down else "-",
            str(row.max_lag),
            _recovery(row),
        ]

    lines = ["  ".join(name.rjust(width) if i else name.ljust(width) for i, (name, width) in enumerate(COLUMNS))]
    for row in rows:
        values = cells(row)
        lines.append(
            "  ".join(
                v.rjust(w) if i else v.ljust(w) for i, (v, (_, w)) in enumerate(zip(values, COLUMNS, strict=True))
            )
        )
    return "\n".join(lines)


def _recovery(row: Row) -> str:
    if not row.ran:
        return "not run"
    if not row.measured:
        return "-"
    return f"{row.recovery_seconds:.1f}" if row.recovery_seconds is not None else "NOT RECOVERED"


def to_json(value: Any) -> Any:
    """Dataclasses to plain JSON values."""
    if hasattr(value, "__dataclass_fields__"):
        return {name: to_json(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value
