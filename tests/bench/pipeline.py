"""``make bench-pipeline``: what the service shell costs, against a plain aiokafka chain.

In one run, on a broker of its own started on free ports (never the developer's
127.0.0.1:9092; stopped at the end, even on failure), with topic names of its own:

1. preload: ``--messages`` realistic raw envelopes (the demo's payload builders, every
   platform in turn, each with a ``[bpNNNNNNNN]`` token its text keeps to social.routed)
   on social.raw;
2. (a) plain chain: three processes (tests/bench/plain_stage.py) with the services'
   delivery semantics and nothing else, raw -> s1 -> s2 -> s3; drain rate and CPU seconds
   per record per stage;
3. (b) pipeline: the four services as processes drain raw -> routed; drain rate, CPU per
   record per service, every message on social.routed exactly once (by message id);
4. (c) each stage alone: one service drains the same input (social.raw, and the messages,
   classified and routed records (b) wrote) into fresh outputs; its CPU per record, and
   its decision logic's CPU per record in this process without Kafka, so the shell
   overhead is the difference;
5. (d) latency raw -> routed at offered rates (100, 300, 1,000 msg/s) for
   ``--latency-seconds`` each, the four services running on fresh topics: p50/p95/p99 of
   the routed record's Kafka timestamp minus the moment the envelope was handed to the
   producer, and again exactly once.

It prints a table with the issue's ratios and targets and writes reports/bench-pipeline.json.
Exit status 1 when a message was lost or duplicated or a phase did not finish; a target
not met is a figure, not a failure.

    python -m tests.bench.pipeline [--messages N | --quick] [--latency-seconds S]
"""

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import math
import os
import re
import shutil
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.cluster import REPO, STAGES, Broker, Services, cpu_seconds, demo_envelope, machine_busy
from tests.harness import ServiceProcess, unique_topics
from triage_runtime.delivery import Inbound
from triage_runtime.kafka import KafkaSettings, ensure_topics
from triage_runtime.topics import TopicSettings

DEFAULT_MESSAGES = 50_000
QUICK_MESSAGES = 5_000
DEFAULT_LATENCY_SECONDS = 20.0
QUICK_LATENCY_SECONDS = 5.0
RATES = (100.0, 300.0, 1000.0)
WARMUP = (100.0, 200)  # rate, messages: first records through fresh processes, not measured
PARTITIONS = 6  # the services' default
BATCH = 500  # the services' default batch size
POLL_SECONDS = 0.2  # how often committed and end offsets are looked at; nothing signals them
STALL_SECONDS = 120.0  # no progress for this long: the phase is over, what is missing is lost
REPORT = REPO / "reports" / "bench-pipeline.json"
RUNS = REPO / ".run" / "bench-pipeline"
KEEP_RUNS = 3
TOKEN = re.compile(rb"\[bp(\d{8})\]")

# The issue's targets.
DRAIN_SHARE_TARGET = 0.40  # pipeline drain rate / plain chain rate, at least
OVERHEAD_TARGET = 1.5  # shell CPU per record / plain chain CPU per record per stage, at most
CLASSIFIER_SHARE_TARGET = 0.70  # classifier in service / offline batched, at least
P99_300_TARGET_MS = 50.0
P50_100_TARGET_MS = 20.0

# The topic each stage reads and the one whose first record shows it started work.
INPUTS: dict[str, tuple[str, ...]] = {
    "ingest": ("raw",),
    "classifier": ("messages",),
    "router": ("classified",),
    "sla-monitor": ("routed", "conversation_events"),
}
OUTPUT = {"ingest": "messages", "classifier": "classified", "router": "routed", "sla-monitor": "sla_state"}


class BenchFailed(RuntimeError):
    pass


def envelope(seq: int) -> tuple[str, bytes]:
    """(key, raw envelope bytes) of message ``seq``."""
    _, key, value = demo_envelope(seq, f"[bp{seq:08d}]", "bench")
    return key, value


def topic_of(topics: TopicSettings, name: str) -> str:
    return str(getattr(topics, name))


def per_record(seconds: float, records: int) -> float:
    return seconds / records if records else math.nan


class Usage:
    """CPU over one phase: the broker's, and the share of the machine that processes outside
    this run used (another test run on the same two cores lowers every figure; this says
    how much of that there was)."""

    def __init__(self, broker: Broker, ours: Sequence[int] = ()) -> None:
        self.broker_pid = broker.pid()
        self.ours = [*ours, os.getpid()]
        self.started = self._sample()

    def _sample(self) -> tuple[float, float, float, float]:
        busy, total = machine_busy()
        broker = (cpu_seconds(self.broker_pid) or 0.0) if self.broker_pid is not None else 0.0
        return busy, total, broker, sum(cpu_seconds(pid) or 0.0 for pid in self.ours)

    def finish(self, records: int, extra_ours: float = 0.0) -> dict[str, float]:
        """``extra_ours``: CPU seconds of this run's processes that have exited by now."""
        busy, total, broker, ours = self._sample()
        busy0, total0, broker0, ours0 = self.started
        hz = os.sysconf("SC_CLK_TCK")
        elapsed = max(1.0, total - total0) / hz  # CPU seconds the machine had, all cores together
        other = (busy - busy0) / hz - (broker - broker0) - (ours - ours0) - extra_ours
        return {
            "broker_cpu_seconds_per_record": per_record(broker - broker0, records),
            "machine_busy_share": round((busy - busy0) / hz / elapsed, 3),
            "other_processes_cpu_share": round(max(0.0, other) / elapsed, 3),
        }


# --- Kafka ---------------------------------------------------------------------------------


class Probe:
    """End offsets of topics, committed offsets of groups and whole topics read back, all
    without joining a group."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self.offsets = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)

    async def start(self) -> None:
        await self.admin.start()
        await self.offsets.start()

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.offsets.stop()
        with contextlib.suppress(Exception):
            await self.admin.close()

    async def ends(self, topics: Sequence[str]) -> dict[TopicPartition, int]:
        partitions = [TopicPartition(topic, p) for topic in topics for p in range(PARTITIONS)]
        ends: dict[TopicPartition, int] = await self.offsets.end_offsets(partitions)
        return ends

    async def count(self, topics: Sequence[str]) -> int:
        return sum((await self.ends(topics)).values())

    async def committed(self, group: str) -> dict[TopicPartition, int]:
        found = await self.admin.list_consumer_group_offsets(group)
        return {tp: meta.offset for tp, meta in found.items() if meta is not None and meta.offset >= 0}

    async def scan(self, topic: str, handle: Callable[["ConsumerRecord[bytes, bytes]"], None]) -> int:
        """Hand every record on ``topic`` up to its current end to ``handle``; returns how many."""
        ends = {tp: end for tp, end in (await self.ends([topic])).items() if end > 0}
        if not ends:
            return 0
        reader = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            fetch_max_bytes=16 * 1024 * 1024,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        await reader.start()
        read = 0
        try:
            reader.assign(list(ends))
            await reader.seek_to_beginning(*ends)
            remaining = dict(ends)
            while remaining:
                batches = await reader.getmany(*remaining, timeout_ms=2000, max_records=5000)
                for tp, records in batches.items():
                    for record in records:
                        if record.offset < ends[tp]:
                            handle(record)
                            read += 1
                    if records and records[-1].offset + 1 >= ends[tp]:
                        remaining.pop(tp, None)
        finally:
            await reader.stop()
        return read

    async def first_timestamp(self, topic: str) -> float | None:
        """Wall-clock seconds of the earliest record on ``topic`` (its producer's CreateTime)."""
        ends = {tp: end for tp, end in (await self.ends([topic])).items() if end > 0}
        if not ends:
            return None
        reader = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False)
        await reader.start()
        try:
            reader.assign(list(ends))
            await reader.seek_to_beginning(*ends)
            stamps: list[int] = []
            for tp in ends:
                batch = await reader.getmany(tp, timeout_ms=5000, max_records=1)
                stamps.extend(record.timestamp for records in batch.values() for record in records)
        finally:
            await reader.stop()
        return min(stamps) / 1000 if stamps else None


async def produce(bootstrap: str, topic: str, records: Sequence[tuple[str, bytes]]) -> None:
    """Write ``records`` as fast as the producer takes them, every acknowledgement awaited."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5, max_batch_size=256 * 1024
    )
    await producer.start()
    try:
        pending: list[asyncio.Future[Any]] = []
        for key, value in records:
            pending.append(await producer.send(topic, value, key=key.encode()))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


# --- services ------------------------------------------------------------------------------


class BenchServices(Services):
    """The services with their default settings (default routing policy, built-in SLA
    policy, no brand accounts: what the offline decision figures use), consumer groups and
    a transactional id of this run's own."""

    def __init__(self, bootstrap: str, topics: TopicSettings, log_dir: Path, tag: str) -> None:
        (log_dir / tag).mkdir(parents=True, exist_ok=True)
        super().__init__(bootstrap, topics, log_dir / tag)
        self.tag = f"bench-{uuid.uuid4().hex[:8]}-{tag}"

    def group(self, stage: str) -> str:
        return f"{self.tag}-{stage}"

    def env(self, stage: str) -> dict[str, str]:
        prefix = "TRIAGE_" + stage.upper().replace("-", "_") + "_"
        env = {**super().env(stage), f"{prefix}CONSUMER_GROUP": self.group(stage), f"{prefix}LOG_LEVEL": "WARNING"}
        if stage == "sla-monitor":
            env["TRIAGE_SLA_MONITOR_TRANSACTIONAL_ID"] = f"{self.tag}-sla"
        return env

    def inputs(self, stage: str) -> list[str]:
        return [topic_of(self.topics, name) for name in INPUTS[stage]]


async def ready_at(process: ServiceProcess, timeout: float = 180.0) -> float:
    """The wall-clock moment ``process`` first answers /readyz, looked at every 50 ms so the
    drain's start is not blurred by the polling."""
    assert process.process is not None
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.process.poll() is not None:
                raise BenchFailed(f"triage-{process.service} exited: {process.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{process.url}/readyz")).status_code == 200:
                    return time.time()
            await asyncio.sleep(0.05)
    raise BenchFailed(f"triage-{process.service} not ready within {timeout:.0f} s: {process.log_tail()}")


@dataclass
class Drained:
    """When each watched stage had committed all of its input, and its CPU seconds then."""

    done_at: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    stalled: bool = False


async def watch_drain(probe: Probe, services: BenchServices, stages: Sequence[str]) -> Drained:
    """Wait until every stage in ``stages`` (in pipeline order) has committed everything on
    its input topics after the stage before it finished, sampling each one's CPU then.
    Committed offsets are only known by asking, so they are polled."""
    drained = Drained()
    progress, progress_at = -1, time.monotonic()
    while len(drained.done_at) < len(stages):
        total = 0
        for index, stage in enumerate(stages):
            if stage in drained.done_at:
                continue
            ends = await probe.ends(services.inputs(stage))
            committed = await probe.committed(services.group(stage))
            total += sum(committed.values())
            upstream_done = index == 0 or stages[index - 1] in drained.done_at
            if upstream_done and all(committed.get(tp, 0) >= end for tp, end in ends.items()):
                drained.cpu[stage] = services.cpu_now(stage)
                drained.done_at[stage] = time.time()
        if total != progress:
            progress, progress_at = total, time.monotonic()
        elif time.monotonic() - progress_at > STALL_SECONDS:
            drained.stalled = True
            return drained
        await asyncio.sleep(POLL_SECONDS)
    return drained


# --- delivery accounting -----------------------------------------------------------------


@dataclass
class Arrivals:
    """What arrived on social.routed, by the token each message's text carries."""

    first_ms: dict[int, int] = field(default_factory=dict)  # seq: Kafka timestamp of its first copy
    first_read: dict[int, float] = field(default_factory=dict)  # seq: when this process read it
    copies: Counter[int] = field(default_factory=Counter)
    ids: Counter[str] = field(default_factory=Counter)
    seq_of: dict[str, int] = field(default_factory=dict)  # message id: the token its text carries
    unmarked: int = 0

    def add(self, record: "ConsumerRecord[bytes, bytes]") -> None:
        value = record.value or b""
        token = TOKEN.search(value)
        if token is None:
            self.unmarked += 1
            return
        seq = int(token.group(1))
        self.copies[seq] += 1
        message_id = json.loads(value)["message_id"]
        self.ids[message_id] += 1
        self.seq_of[message_id] = seq
        if seq not in self.first_ms or record.timestamp < self.first_ms[seq]:
            self.first_ms[seq] = record.timestamp
            self.first_read.setdefault(seq, time.time())

    def delivery(self, sent: Sequence[int]) -> dict[str, Any]:
        """Lost and duplicated among the messages ``sent``; duplicates counted by message id."""
        wanted = set(sent)
        ids = {mid: n for mid, n in self.ids.items() if self.seq_of[mid] in wanted}
        lost = sum(1 for seq in wanted if seq not in self.copies)
        duplicated_by_id = sum(n - 1 for n in ids.values() if n > 1)
        duplicated_by_token = sum(n - 1 for seq, n in self.copies.items() if seq in wanted and n > 1)
        return {
            "sent": len(wanted),
            "routed_records": sum(self.copies[seq] for seq in wanted),
            "unique_message_ids": len(ids),
            "lost": lost,
            "duplicated": max(duplicated_by_id, duplicated_by_token),
            "exactly_once": lost == 0 and duplicated_by_id == 0 and duplicated_by_token == 0,
        }


# --- (a) the plain chain -----------------------------------------------------------------


async def plain_chain(broker: Broker, raw: str, count: int, log_dir: Path) -> dict[str, Any]:
    bootstrap = broker.bootstrap
    prefix = f"bench-{uuid.uuid4().hex[:8]}.plain"
    chain = [raw, f"{prefix}-1", f"{prefix}-2", f"{prefix}-3"]
    topics = unique_topics(PARTITIONS)
    await ensure_topics(KafkaSettings(bootstrap_servers=bootstrap), topics, names=chain[1:])
    processes: list[asyncio.subprocess.Process] = []
    try:
        for index in range(3):
            with (log_dir / f"plain-{index + 1}.log").open("ab") as log:
                processes.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable, "-m", "tests.bench.plain_stage", "--bootstrap", bootstrap,
                        "--source", chain[index], "--target", chain[index + 1],
                        "--group", f"{prefix}-stage-{index + 1}", "--count", str(count),
                        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log, cwd=REPO,
                    )
                )  # fmt: skip
        for process in processes:
            line = await asyncio.wait_for(_line(process), timeout=120)
            if not line.get("ready"):
                raise BenchFailed(f"a plain stage did not get ready: {line}")
        go = time.time()
        usage = Usage(broker)
        for process in processes:
            assert process.stdin is not None
            process.stdin.write(b"go\n")
            await process.stdin.drain()
        results = [await asyncio.wait_for(_line(p), timeout=STALL_SECONDS + count / 100) for p in processes]
        machine = usage.finish(count, extra_ours=sum(r["cpu_seconds"] for r in results))
        for process in processes:
            await asyncio.wait_for(process.wait(), timeout=60)
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
    seconds = results[-1]["finished_at"] - go
    per_stage = [per_record(r["cpu_seconds"], count) for r in results]
    return {
        "records": count,
        "seconds": round(seconds, 3),
        "rate": count / seconds,
        "stages": [
            {"stage": f"plain-{i + 1}", "cpu_seconds": r["cpu_seconds"], "cpu_seconds_per_record": cpu}
            for i, (r, cpu) in enumerate(zip(results, per_stage, strict=True))
        ],
        "cpu_seconds_per_record_mean": sum(per_stage) / len(per_stage),
        **machine,
    }


async def _line(process: asyncio.subprocess.Process) -> dict[str, Any]:
    assert process.stdout is not None
    line = await process.stdout.readline()
    if not line:
        raise BenchFailed(f"a plain stage exited ({await process.wait()}); see its log")
    found: dict[str, Any] = json.loads(line)
    return found


# --- (b) the pipeline drains -------------------------------------------------------------


async def pipeline_drain(
    broker: Broker, probe: Probe, topics: TopicSettings, count: int, seqs: Sequence[int], log_dir: Path
) -> dict[str, Any]:
    bootstrap = broker.bootstrap
    services = BenchServices(bootstrap, topics, log_dir, "pipeline")
    try:
        # Downstream first, so they wait idle; the drain starts when ingest is ready.
        await asyncio.gather(*(services.start(stage) for stage in STAGES[1:]))
        ingest = services.launch("ingest")
        ready = await ready_at(ingest)
        cpu_start = {stage: services.cpu_now(stage) for stage in STAGES}
        usage = Usage(broker, [services.pid(stage) for stage in STAGES])
        committed_before = sum((await probe.committed(services.group("ingest"))).values())
        drained = await watch_drain(probe, services, STAGES)
        machine = usage.finish(count)
    finally:
        services.stop_all()
    first_output = await probe.first_timestamp(topics.messages)
    started = min(ready, first_output or ready)
    arrivals = Arrivals()
    await probe.scan(topics.routed, arrivals.add)
    delivery = arrivals.delivery(seqs)
    dead = await probe.count([topics.dlq])
    if drained.stalled or not arrivals.first_ms:
        raise BenchFailed(f"the pipeline did not drain (stalled: {drained.stalled}); {delivery}, {dead} dead letters")
    finished = max(arrivals.first_ms[seq] for seq in seqs if seq in arrivals.first_ms) / 1000
    seconds = finished - started
    return {
        "records": count,
        "seconds": round(seconds, 3),
        "rate": count / seconds,
        "ingest_committed_before_ready": committed_before,
        "services": {
            stage: {
                "cpu_seconds": drained.cpu[stage] - cpu_start[stage],
                "cpu_seconds_per_record": per_record(drained.cpu[stage] - cpu_start[stage], count),
                "done_after_seconds": round(drained.done_at[stage] - started, 3),
            }
            for stage in STAGES
        },
        "delivery": {**delivery, "dead_letters": dead},
        **machine,
    }


# --- (c) each stage alone, and its decision logic offline --------------------------------


async def stage_alone(broker: Broker, probe: Probe, source: TopicSettings, stage: str, log_dir: Path) -> dict[str, Any]:
    bootstrap = broker.bootstrap
    """``stage`` alone drains what (b) left on its input topic(s) into fresh outputs."""
    fresh = unique_topics(PARTITIONS)
    topics = fresh.model_copy(update={name: topic_of(source, name) for name in INPUTS[stage]})
    await ensure_topics(KafkaSettings(bootstrap_servers=bootstrap), topics)
    services = BenchServices(bootstrap, topics, log_dir, f"alone-{stage}")
    records = await probe.count(services.inputs(stage))
    try:
        ready = await ready_at(services.launch(stage))
        cpu_start = services.cpu_now(stage)
        usage = Usage(broker, [services.pid(stage)])
        drained = await watch_drain(probe, services, [stage])
        machine = usage.finish(records)
    finally:
        services.stop_all()
    if drained.stalled:
        raise BenchFailed(f"{stage} alone did not drain its {records} input records")
    first_output = await probe.first_timestamp(topic_of(topics, OUTPUT[stage]))
    started = min(ready, first_output or ready)
    seconds = drained.done_at[stage] - started
    cpu = drained.cpu[stage] - cpu_start
    return {
        "records": records,
        "seconds": round(seconds, 3),
        "rate": records / seconds,
        "cpu_seconds": cpu,
        "cpu_seconds_per_record": per_record(cpu, records),
        **machine,
    }


@dataclass
class Timed:
    cpu: float = 0.0
    wall: float = 0.0

    @contextlib.contextmanager
    def measure(self) -> Any:
        # The collector stays off while timing: this process holds every stage's inputs
        # and outputs for all the messages (hundreds of thousands of objects), and its
        # passes over them cost more than some stages' decisions (the router's measured
        # 124 µs per message with them, 59 without). A service's heap is small; what its
        # collector costs there is counted in the service's CPU, as shell overhead.
        gc.collect()
        gc.disable()
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            yield
        finally:
            self.cpu += time.process_time() - cpu
            self.wall += time.perf_counter() - wall
            gc.enable()


def offline_decisions(raws: Sequence[bytes]) -> dict[str, dict[str, float]]:
    """Each stage's decision logic over the preloaded envelopes, in this process, without
    Kafka; each stage's input is the previous one's output, serialised outside the timing
    (writing outputs is the shell's job)."""
    from triage_classifier.config import ClassifierSettings
    from triage_classifier.loader import load_classifier
    from triage_classifier.records_io import classify_batch
    from triage_ingest.app import build_normalizer
    from triage_ingest.config import IngestSettings
    from triage_router.config import RouterSettings
    from triage_router.policy import load_policy
    from triage_router.records_io import route_inbound
    from triage_sla_monitor.config import SlaMonitorSettings, load_clock_policy
    from triage_sla_monitor.monitor import Monitor
    from triage_sla_monitor.surges import SurgeDetector

    timed = {stage: Timed() for stage in STAGES}

    normalizer = build_normalizer(IngestSettings())
    messages = []
    with timed["ingest"].measure():
        for raw in raws:
            messages.extend(normalizer.record(raw, time.time()).messages)
    message_bytes = [Inbound(m.to_json_bytes()) for m in messages]

    classifier = load_classifier(ClassifierSettings())
    results = []
    with timed["classifier"].measure():
        for start in range(0, len(message_bytes), BATCH):
            results.extend(classify_batch(classifier, "classified", message_bytes[start : start + BATCH]))
    classified = [
        Inbound(out.record.to_json_bytes()) for result in results if isinstance(result, list) for out in result
    ]

    policy = load_policy(RouterSettings().policy_file)
    outputs = []
    with timed["router"].measure():
        for inbound in classified:
            outputs.extend(route_inbound(policy, "routed", inbound))
    settings = SlaMonitorSettings()
    routed = [
        Inbound(out.record.to_json_bytes(), topic=settings.topics.routed, partition=i % PARTITIONS, offset=i)
        for i, out in enumerate(outputs)
    ]

    clock_policy = load_clock_policy(None)
    monitor = Monitor(settings, clock_policy, logging.getLogger("bench-pipeline"))
    detector = SurgeDetector(clock_policy.sla.surges)
    with timed["sla-monitor"].measure():
        for inbound in routed:
            monitor.on_input(inbound)
        # the monitor's other decision: each message counted in its three surge dimensions
        for item in monitor.volumes:
            detector.count((item.dimension.value, item.value), item.at, item.issue_type, item.negative)
        detector.advance(max((item.at for item in monitor.volumes), default=0.0))

    counts = {"ingest": len(raws), "classifier": len(message_bytes), "router": len(classified)}
    counts["sla-monitor"] = len(routed)
    if len(set(counts.values())) != 1:
        raise BenchFailed(f"offline, the stages did not each yield one record per message: {counts}")
    return {
        stage: {
            "records": counts[stage],
            "cpu_seconds_per_record": per_record(t.cpu, counts[stage]),
            "rate": counts[stage] / t.wall if t.wall else math.nan,
        }
        for stage, t in timed.items()
    }


# --- (d) latency -------------------------------------------------------------------------


class RoutedReader:
    """Reads social.routed as it fills, outside any group."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.arrivals = Arrivals()
        self.changed = asyncio.Condition()
        self.consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False
        )
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        self.task = asyncio.create_task(self._read())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.consumer.stop()

    async def _read(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    self.arrivals.add(record)
            if batches:
                async with self.changed:
                    self.changed.notify_all()

    async def wait_for(self, seqs: Sequence[int]) -> bool:
        """Until every one of ``seqs`` arrived; False once nothing new arrived for STALL_SECONDS."""
        first = self.arrivals.first_ms

        def arrived() -> bool:
            return all(seq in first for seq in seqs)

        while not arrived():
            seen = len(first)
            try:
                async with asyncio.timeout(STALL_SECONDS), self.changed:
                    await self.changed.wait_for(lambda seen=seen: arrived() or len(first) != seen)  # type: ignore[misc]
            except TimeoutError:
                return False
        return True


async def paced(
    producer: AIOKafkaProducer, topic: str, messages: Sequence[tuple[int, str, bytes]], rate: float
) -> dict[int, float]:
    """Send ``messages`` at ``rate`` per second; the wall-clock moment each was handed over."""
    loop = asyncio.get_running_loop()
    sent: dict[int, float] = {}
    pending: list[asyncio.Future[Any]] = []
    started = loop.time()
    for index, (seq, key, value) in enumerate(messages):
        delay = started + index / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)  # the offered rate
        sent[seq] = time.time()
        pending.append(await producer.send(topic, value, key=key.encode()))
    await asyncio.gather(*pending)
    return sent


def percentiles(values_ms: list[float]) -> dict[str, float]:
    if not values_ms:
        return {"p50_ms": math.nan, "p95_ms": math.nan, "p99_ms": math.nan, "max_ms": math.nan}
    ordered = sorted(values_ms)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)], 1)

    return {"p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99), "max_ms": round(ordered[-1], 1)}


def hops(sent: dict[int, float], stamps: Sequence[dict[int, int]]) -> dict[str, dict[str, float]]:
    """p50/p99 of each hop: send to ingest's output, to the classifier's, to the router's."""
    found: dict[str, dict[str, float]] = {}
    for index, stage in enumerate(("ingest", "classifier", "router")):
        values = []
        for seq, at in sent.items():
            before = at * 1000 if index == 0 else stamps[index - 1].get(seq)
            after = stamps[index].get(seq)
            if before is not None and after is not None:
                values.append(after - before)
        shown = percentiles(values)
        found[stage] = {"p50_ms": shown["p50_ms"], "p99_ms": shown["p99_ms"]}
    return found


async def latency(bootstrap: str, rates: Sequence[float], seconds: float, log_dir: Path) -> dict[str, Any]:
    topics = unique_topics(PARTITIONS)
    await ensure_topics(KafkaSettings(bootstrap_servers=bootstrap), topics)
    services = BenchServices(bootstrap, topics, log_dir, "latency")
    reader = RoutedReader(bootstrap, topics.routed)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    phases: dict[str, Any] = {}
    sent_in: dict[str, dict[int, float]] = {}
    all_sent: list[int] = []
    try:
        await services.start_all()
        await reader.start()
        await producer.start()
        plan = [("warm-up", WARMUP[0], WARMUP[1]), *((f"{rate:g}", rate, round(rate * seconds)) for rate in rates)]
        for index, (name, rate, count) in enumerate(plan):
            base = (index + 1) * 10_000_000
            messages = [(seq, *envelope(seq)) for seq in range(base, base + count)]
            sent = await paced(producer, topics.raw, messages, rate)
            arrived = await reader.wait_for(list(sent))
            all_sent.extend(sent)
            sent_in[name] = sent
            first = reader.arrivals.first_ms
            by_stamp = [first[seq] - at * 1000 for seq, at in sent.items() if seq in first]
            by_read = [(reader.arrivals.first_read[seq] - at) * 1000 for seq, at in sent.items() if seq in first]
            phases[name] = {
                "offered_rate": rate,
                "seconds": seconds if name != "warm-up" else count / rate,
                **percentiles(by_stamp),
                "read": percentiles(by_read),
                "complete": arrived,
                "delivery": reader.arrivals.delivery(list(sent)),
            }
        # Where the time goes: each hop's share, from the Kafka timestamps of each stage's output.
        outputs = [Arrivals(), Arrivals()]
        probe = Probe(bootstrap)
        await probe.start()
        try:
            await probe.scan(topics.messages, outputs[0].add)
            await probe.scan(topics.classified, outputs[1].add)
        finally:
            await probe.stop()
        stamps = [outputs[0].first_ms, outputs[1].first_ms, reader.arrivals.first_ms]
        for name, sent in sent_in.items():
            phases[name]["hops"] = hops(sent, stamps)
    finally:
        with contextlib.suppress(Exception):
            await producer.stop()
        with contextlib.suppress(Exception):
            await reader.stop()
        services.stop_all()
    return {"phases": phases, "delivery": reader.arrivals.delivery(all_sent)}


# --- the run -------------------------------------------------------------------------------


@dataclass
class Options:
    messages: int = DEFAULT_MESSAGES
    latency_seconds: float = DEFAULT_LATENCY_SECONDS
    rates: tuple[float, ...] = RATES
    report: Path = REPORT


def run_dir() -> Path:
    root = RUNS / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{os.getpid()}"
    (root / "logs").mkdir(parents=True)
    for old in sorted(RUNS.iterdir())[:-KEEP_RUNS]:
        if not (old / "kafka" / "kafka.pid").exists():
            shutil.rmtree(old, ignore_errors=True)
    return root


def say(text: str) -> None:
    print(f"bench-pipeline: {text}", file=sys.stderr, flush=True)


async def run(options: Options) -> dict[str, Any]:
    """The whole benchmark; returns the report (also written to ``options.report``)."""
    root = run_dir()
    logs = root / "logs"
    broker = Broker(root / "kafka")
    began = time.time()
    busy0 = machine_busy()
    report: dict[str, Any] = {
        "run": {
            "messages": options.messages,
            "latency_seconds": options.latency_seconds,
            "rates": list(options.rates),
            "cpus": os.cpu_count(),
            "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
            "started_at": datetime.now(UTC).isoformat(),
            "logs": str(logs),
        }
    }
    try:
        say(f"starting a broker of its own (state in {broker.state_dir})")
        await asyncio.to_thread(broker.up)
        report["run"]["bootstrap"] = broker.bootstrap
        probe = Probe(broker.bootstrap)
        await probe.start()
        try:
            topics = unique_topics(PARTITIONS)
            await ensure_topics(KafkaSettings(bootstrap_servers=broker.bootstrap), topics)
            seqs = list(range(options.messages))
            say(f"building and preloading {options.messages:,} raw envelopes on {topics.raw}")
            envelopes = [envelope(seq) for seq in seqs]
            started = time.perf_counter()
            await produce(broker.bootstrap, topics.raw, envelopes)
            report["preload"] = {
                "seconds": round(time.perf_counter() - started, 3),
                "bytes": sum(len(value) for _, value in envelopes),
            }

            say("(a) plain aiokafka chain, three processes")
            report["plain_chain"] = await plain_chain(broker, topics.raw, options.messages, logs)
            say(f"    {report['plain_chain']['rate']:.0f} msg/s")

            say("(b) the four services drain raw -> routed")
            report["pipeline"] = await pipeline_drain(broker, probe, topics, options.messages, seqs, logs)
            say(f"    {report['pipeline']['rate']:.0f} msg/s; {report['pipeline']['delivery']}")

            alone: dict[str, Any] = {}
            for stage in STAGES:
                say(f"(c) {stage} alone")
                alone[stage] = await stage_alone(broker, probe, topics, stage, logs)
                say(f"    {alone[stage]['rate']:.0f} msg/s")
            report["stages_alone"] = alone
        finally:
            await probe.stop()

        say(f"(d) latency at {', '.join(f'{r:g}' for r in options.rates)} msg/s, {options.latency_seconds:g} s each")
        report["latency"] = await latency(broker.bootstrap, options.rates, options.latency_seconds, logs)

        say("(c) decision logic offline, in this process")
        report["decisions_offline"] = await asyncio.to_thread(offline_decisions, [value for _, value in envelopes])
    finally:
        say("stopping the broker")
        await asyncio.to_thread(broker.down)
        shutil.rmtree(broker.state_dir / "data", ignore_errors=True)
        busy1 = machine_busy()
        report["run"]["seconds"] = round(time.time() - began, 1)
        report["run"]["machine_busy_share"] = round((busy1[0] - busy0[0]) / max(1.0, busy1[1] - busy0[1]), 3)
    report["figures"] = figures(report)
    report["targets"] = targets(report["figures"])
    options.report.parent.mkdir(parents=True, exist_ok=True)
    options.report.write_text(json.dumps(report, indent=2, default=_json_default) + "\n")
    return report


def _json_default(value: Any) -> Any:
    return str(value)


# --- figures and the table -----------------------------------------------------------------


def figures(report: dict[str, Any]) -> dict[str, Any]:
    """The ratios the issue asks for, from the measured parts."""
    plain = report["plain_chain"]
    plain_cpu = plain["cpu_seconds_per_record_mean"]
    stages: dict[str, Any] = {}
    for stage in STAGES:
        alone = report["stages_alone"][stage]
        decision = report["decisions_offline"][stage]
        in_pipeline = report["pipeline"]["services"][stage]["cpu_seconds_per_record"]
        overhead = alone["cpu_seconds_per_record"] - decision["cpu_seconds_per_record"]
        stages[stage] = {
            "service_cpu_seconds_per_record": alone["cpu_seconds_per_record"],
            "pipeline_cpu_seconds_per_record": in_pipeline,
            "decision_cpu_seconds_per_record": decision["cpu_seconds_per_record"],
            "shell_overhead_cpu_seconds_per_record": overhead,
            "shell_overhead_vs_plain": overhead / plain_cpu,
            "pipeline_shell_overhead_vs_plain": (in_pipeline - decision["cpu_seconds_per_record"]) / plain_cpu,
        }
    phases = report["latency"]["phases"]
    return {
        "plain_chain_rate": plain["rate"],
        "pipeline_rate": report["pipeline"]["rate"],
        "drain_share": report["pipeline"]["rate"] / plain["rate"],
        "plain_cpu_seconds_per_record_per_stage": plain_cpu,
        "stages": stages,
        "classifier_in_service_rate": report["stages_alone"]["classifier"]["rate"],
        "classifier_offline_rate": report["decisions_offline"]["classifier"]["rate"],
        "classifier_share": report["stages_alone"]["classifier"]["rate"]
        / report["decisions_offline"]["classifier"]["rate"],
        "p99_ms_at_300": phases.get("300", {}).get("p99_ms", math.nan),
        "p50_ms_at_100": phases.get("100", {}).get("p50_ms", math.nan),
        "exactly_once": report["pipeline"]["delivery"]["exactly_once"]
        and report["latency"]["delivery"]["exactly_once"],
    }


def targets(fig: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [
        ("pipeline drain rate / plain chain rate", fig["drain_share"], ">=", DRAIN_SHARE_TARGET),
        *(
            (f"{stage} shell overhead / plain CPU per record", values["shell_overhead_vs_plain"], "<=", OVERHEAD_TARGET)
            for stage, values in fig["stages"].items()
        ),
        ("classifier in service / offline batched", fig["classifier_share"], ">=", CLASSIFIER_SHARE_TARGET),
        ("p99 latency at 300 msg/s (ms)", fig["p99_ms_at_300"], "<=", P99_300_TARGET_MS),
        ("p50 latency at 100 msg/s (ms)", fig["p50_ms_at_100"], "<=", P50_100_TARGET_MS),
    ]
    return [
        {
            "name": name,
            "value": value,
            "target": f"{op} {limit:g}",
            "met": bool(not math.isnan(value) and (value >= limit if op == ">=" else value <= limit)),
        }
        for name, value, op, limit in rows
    ]


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f}"


def table(report: dict[str, Any]) -> str:
    fig = report["figures"]
    plain, pipeline = report["plain_chain"], report["pipeline"]
    lines = [
        f"bench-pipeline: {report['run']['messages']:,} messages, {report['run']['cpus']} CPUs, "
        f"broker {report['run'].get('bootstrap')}, {report['run']['seconds']:.0f} s",
        "",
        "drain                         msg/s   seconds   broker CPU µs/record   machine used by others",
        *(
            f"  {name:<22} {part['rate']:>9,.0f}  {part['seconds']:>8.1f}"
            f"  {_us(part['broker_cpu_seconds_per_record']):>21}  {part['other_processes_cpu_share']:>22.0%}"
            for name, part in (("plain aiokafka chain", plain), ("four services", pipeline))
        ),
        "",
        "CPU µs per record            plain   pipeline   alone   decision   overhead   overhead/plain   alone msg/s",
    ]
    for index, stage in enumerate(STAGES):
        s = fig["stages"][stage]
        plain_stage = plain["stages"][min(index, 2)]["cpu_seconds_per_record"]
        lines.append(
            f"  {stage:<22} {_us(plain_stage) if index < 3 else '-':>9}  {_us(s['pipeline_cpu_seconds_per_record']):>9}"
            f"  {_us(s['service_cpu_seconds_per_record']):>6}  {_us(s['decision_cpu_seconds_per_record']):>9}"
            f"  {_us(s['shell_overhead_cpu_seconds_per_record']):>9}  {s['shell_overhead_vs_plain']:>15.2f}x"
            f"  {report['stages_alone'][stage]['rate']:>12,.0f}"
        )
    lines += [
        f"  (plain chain mean per stage: {_us(fig['plain_cpu_seconds_per_record_per_stage'])} µs; "
        f"overhead = alone - decision)",
        "",
        f"classifier: {fig['classifier_in_service_rate']:,.0f} msg/s in service (alone), "
        f"{fig['classifier_offline_rate']:,.0f} msg/s offline batched",
        "",
        "latency raw -> routed        sent     p50 ms   p95 ms   p99 ms   max ms   lost   dup",
    ]
    for name, phase in report["latency"]["phases"].items():
        d = phase["delivery"]
        label = name if name == "warm-up" else f"{name} msg/s"
        lines.append(
            f"  {label:<22} {d['sent']:>8}  {phase['p50_ms']:>8}  {phase['p95_ms']:>7}  {phase['p99_ms']:>7}"
            f"  {phase['max_ms']:>7}  {d['lost']:>5}  {d['duplicated']:>4}"
        )
    for name, phase in report["latency"]["phases"].items():
        if name != "warm-up":
            each = ", ".join(f"{stage} {v['p50_ms']:g}/{v['p99_ms']:g}" for stage, v in phase["hops"].items())
            lines.append(f"  per hop at {name} msg/s, p50/p99 ms: {each}")
    drained = pipeline["delivery"]
    lines += [
        "",
        f"exactly once on routed: drain {drained['sent']:,} sent, {drained['lost']} lost, "
        f"{drained['duplicated']} duplicated ({drained['unique_message_ids']:,} message ids); "
        f"latency {report['latency']['delivery']['sent']:,} sent, {report['latency']['delivery']['lost']} lost, "
        f"{report['latency']['delivery']['duplicated']} duplicated",
        "",
        "target                                                value    target   ",
    ]
    for row in report["targets"]:
        value = row["value"]
        shown = f"{value:.1f}" if "ms" in row["name"] else f"{value:.2f}"
        lines.append(f"  {row['name']:<50} {shown:>8}  {row['target']:>8}   {'met' if row['met'] else 'NOT MET'}")
    return "\n".join(lines)


def parse(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.pipeline", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, help=f"messages preloaded (default {DEFAULT_MESSAGES:,})")
    parser.add_argument(
        "--latency-seconds", type=float, help=f"each latency phase (default {DEFAULT_LATENCY_SECONDS:g})"
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_MESSAGES:,} messages, {QUICK_LATENCY_SECONDS:g} s phases"
    )
    parser.add_argument("--report", type=Path, default=REPORT, help="where the JSON report goes")
    args = parser.parse_args(argv)
    messages = args.messages or (QUICK_MESSAGES if args.quick else DEFAULT_MESSAGES)
    seconds = args.latency_seconds or (QUICK_LATENCY_SECONDS if args.quick else DEFAULT_LATENCY_SECONDS)
    if messages < 1 or seconds <= 0:
        parser.error("--messages and --latency-seconds must be positive")
    return Options(messages=messages, latency_seconds=seconds, report=args.report)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(argv)
    # A fresh topic's partition leaders are elected a moment after it is created: the
    # producer's "not leader, retrying" warnings then are expected, and noise.
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    try:
        report = asyncio.run(run(options))
    except BenchFailed as error:
        say(f"FAILED: {error}")
        return 1
    print(table(report))
    print(f"\nreport: {options.report}")
    return 0 if report["figures"]["exactly_once"] else 1


if __name__ == "__main__":
    sys.exit(main())
