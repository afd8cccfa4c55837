"""Faults on the real broker while realistic traffic flows through the four services.

A broker of the suite's own (free ports, state under .run/chaos/) runs the pipeline.
Raw platform events from every platform arrive at a steady rate and, in turn: each
service is killed with SIGKILL and restarted, the broker is killed with SIGKILL and
restarted on its data, and 5 % poison records are mixed into social.raw and then into
social.messages. Per fault the report counts good messages lost (none may be),
duplicates on social.routed (at most one batch per restarted or rewound consumer),
duplicate alerts (none), poison records dead-lettered with a reason (all), good
neighbours of poison records delivered (all), alerts that fell due while the SLA
monitor was down fired exactly once, and the time until every stage has caught up.
It prints a table and writes reports/chaos.json.

Size: ``TRIAGE_CHAOS_MESSAGES`` (default 2,000, the CI size) at ``TRIAGE_CHAOS_RATE``
messages per second (default: the size spread over about four minutes of faults).
"""

import asyncio
import json
import os
import resource
import shutil
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest

from tests.chaos import poison
from tests.chaos.cluster import (
    REPO,
    STAGES,
    TOPICS,
    Broker,
    Fault,
    LagSampler,
    Load,
    Observer,
    Pipeline,
    Row,
    build_report,
    chaos_policy,
    create_topics,
    expected_alerts,
    machine_busy,
    now,
    table,
    to_json,
    until,
)
from tests.harness import BrokerUnavailable

MESSAGES = int(os.environ.get("TRIAGE_CHAOS_MESSAGES", "2000"))
# Seven faults one after another, each taking 10 to 20 s to recover from on two cores (a
# restarted consumer waits out its killed predecessor's 10 s session): unless a rate is
# given, the load is spread over four minutes, so every fault happens under traffic.
RATE = float(os.environ.get("TRIAGE_CHAOS_RATE") or max(8.0, MESSAGES / 240))
SLA_TARGET = 10  # seconds: warning at 8, breach at 10, escalation at 20, all within the run
BATCH = 500  # the services' default batch size: what a consumer may publish again after a restart or rewind
IN_FLIGHT = 2.0  # seconds: a message sent this long before a fault was in flight when it struck
RECOVERY_TIMEOUT = 120.0
SETTLE_TIMEOUT = 180.0
REPORT = REPO / "reports" / "chaos.json"
TIMEOUT = int(MESSAGES / RATE + 8 * RECOVERY_TIMEOUT + SETTLE_TIMEOUT + 300)

pytestmark = pytest.mark.chaos


@dataclass(frozen=True)
class Step:
    name: str
    description: str
    duplicate_bound: int


FAULTS = (
    Step("kill-ingest", "kill -9 of ingest, restart", BATCH),
    Step("kill-classifier", "kill -9 of the classifier, restart", BATCH),
    Step("kill-router", "kill -9 of the router, restart", BATCH),
    Step("kill-sla-monitor", "kill -9 of the SLA monitor, restart", 0),
    # ingest, classifier and router may each be rewound by the broker's disappearance
    Step("kill-broker", "kill -9 of the broker, restart on its data", 3 * BATCH),
    Step("poison-raw", "5 % poison records in social.raw", 0),
    Step("poison-messages", "5 % poison records in social.messages", 0),
)


KEEP_RUNS = 5


@pytest.fixture
def chaos_root() -> Path:
    """This run's directory under .run/chaos/ (broker state, service logs, policy); the logs
    of the last few runs are kept, older ones whose broker is stopped are removed."""
    runs = REPO / ".run" / "chaos"
    root = runs / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{os.getpid()}"
    (root / "logs").mkdir(parents=True)
    for old in sorted(runs.iterdir())[:-KEEP_RUNS]:
        if not (old / "kafka" / "kafka.pid").exists():
            shutil.rmtree(old, ignore_errors=True)
    return root


@pytest.fixture
def broker(chaos_root: Path) -> Iterator[Broker]:
    """The suite's own broker, stopped (and its data removed) at the end, even on failure."""
    own = Broker(chaos_root / "kafka")
    try:
        try:
            own.up()
        except BrokerUnavailable as error:
            pytest.fail(str(error), pytrace=False)
        yield own
    finally:
        own.down()
        shutil.rmtree(own.state_dir / "data", ignore_errors=True)


def test_poison_records_are_one_fault_away_from_valid_ones() -> None:
    """Each poison builder spoils a base that is itself valid, so a dead letter is the poison's doing."""
    from triage_schemas.records import RawEnvelope, SocialMessage

    bases = poison.base_records()
    RawEnvelope.model_validate_json(bases["raw"])
    SocialMessage.model_validate_json(bases["message"])
    for pid, build in enumerate([*poison.RAW.values(), *poison.MESSAGES.values()], start=1):
        value = build(pid)
        assert poison.poison_id(value, {}) == pid, build.__name__
        assert len(value) <= poison.MESSAGE_OVERSIZED_BYTES, build.__name__


@pytest.mark.kafka
@pytest.mark.timeout(TIMEOUT)
async def test_faults_lose_no_message_and_repeat_no_alert(broker: Broker, chaos_root: Path) -> None:
    changed = asyncio.Condition()
    await create_topics(broker.bootstrap)
    policy = chaos_policy(chaos_root / "policy.yaml", SLA_TARGET)
    pipeline = Pipeline(broker.bootstrap, chaos_root / "logs", policy, uuid.uuid4().hex[:8])
    observer = Observer(broker.bootstrap, changed)
    load = Load(broker.bootstrap, MESSAGES, RATE, changed)
    sampler = LagSampler(broker.bootstrap, changed, pipeline, broker)
    load.poison_key = lambda: observer.last_conversation or "chaos-poison"
    faults: list[Fault] = []
    try:
        await pipeline.start_all()
        await observer.start()
        await load.start()
        await sampler.start()
        busy_before, usage_before = machine_busy(), resource.getrusage(resource.RUSAGE_SELF)
        started = now()
        await run_faults(faults, pipeline, broker, load, observer, sampler, changed)
        evaluated_at = await settle(load, observer, sampler, changed)
        load_seconds = max(1.0, (load.finished_at or now()) - started)
        busy_after, usage_after = machine_busy(), resource.getrusage(resource.RUSAGE_SELF)
    finally:
        await sampler.stop()
        await load.stop()
        await observer.stop()
        pipeline.stop_all()

    rows = build_report(faults, load, observer, sampler.samples, evaluated_at, IN_FLIGHT)
    cpu = {stage: round(seconds / load_seconds * 100, 1) for stage, seconds in pipeline.cpu_by_stage().items()}
    cpu["broker"] = round(sum(sampler.broker_cpu.values()) / load_seconds * 100, 1)
    test_cpu = (usage_after.ru_utime + usage_after.ru_stime) - (usage_before.ru_utime + usage_before.ru_stime)
    cpu["load generator and counting (this test)"] = round(test_cpu / load_seconds * 100, 1)
    cpu["whole machine, every process on it (busy share of all cores)"] = round(
        (busy_after[0] - busy_before[0]) / max(1.0, busy_after[1] - busy_before[1]) * 100, 1
    )
    failures = check(rows, faults, observer)
    write_report(rows, faults, load, observer, sampler, cpu, failures, load_seconds)
    print(f"\nchaos: {MESSAGES} messages at {RATE:g}/s on {broker.bootstrap}; logs in {chaos_root / 'logs'}")
    print(table(rows))
    print("CPU, % of one core over the load:", json.dumps(cpu))
    print(f"report: {REPORT}")
    assert not failures, "\n".join(failures)


async def run_faults(
    faults: list[Fault],
    pipeline: Pipeline,
    broker: Broker,
    load: Load,
    observer: Observer,
    sampler: LagSampler,
    changed: asyncio.Condition,
) -> None:
    """The load runs while the faults happen one after another: each waits until the
    pipeline has caught up with the last one and its planned share of the load has passed."""
    share = MESSAGES // (len(FAULTS) + 2)  # a baseline, the faults and a quiet tail
    traffic = asyncio.create_task(load.run())

    async def slots(count: int) -> None:
        if not await until(changed, lambda: load.slot >= min(count, load.total) or traffic.done(), 3600):
            raise AssertionError("the load stopped advancing")

    baseline = Fault("baseline", "no fault", started_at=now())
    baseline.recovered_at = baseline.started_at
    faults.append(baseline)
    await slots(share)
    thresholds = {stage: max(20, int(RATE)) for stage in STAGES}

    async def kill(stage: str, fault: Fault) -> None:
        pipeline.kill(stage)
        killed = now()
        await pipeline.start(stage)
        if stage == "sla-monitor":
            fault.down = (killed, now())

    async def kill_broker(_: Fault) -> None:
        await asyncio.to_thread(broker.kill)
        try:
            await asyncio.to_thread(broker.up)
        except BrokerUnavailable as error:
            pytest.fail(f"the chaos broker did not come back after kill -9: {error}", pytrace=False)

    async def poison_into(topic: str, builders: dict[str, poison.Builder], every: int) -> None:
        # at least one of every kind, and half a share
        load.poison_on(topic)
        await slots(load.slot + max(len(builders) * every + 1, share // 2))
        load.poison_on(None)

    actions: dict[str, Callable[[Fault], Awaitable[None]]] = {
        "kill-ingest": lambda f: kill("ingest", f),
        "kill-classifier": lambda f: kill("classifier", f),
        "kill-router": lambda f: kill("router", f),
        "kill-sla-monitor": lambda f: kill("sla-monitor", f),
        "kill-broker": kill_broker,
        "poison-raw": lambda _: poison_into(TOPICS.raw, poison.RAW, Load.RAW_EVERY),
        "poison-messages": lambda _: poison_into(TOPICS.messages, poison.MESSAGES, Load.MESSAGES_EVERY),
    }
    for number, step in enumerate(FAULTS, start=1):
        if traffic.done():
            reason = (
                f"not run: the load ({MESSAGES} messages at {RATE:g}/s) ended first; "
                "raise TRIAGE_CHAOS_MESSAGES or lower TRIAGE_CHAOS_RATE"
            )
            not_run(faults, FAULTS[number - 1 :], reason)
            break
        fault = Fault(
            step.name,
            step.description,
            started_at=now(),
            duplicate_bound=step.duplicate_bound,
            lasting=step.name.startswith("poison"),
        )
        faults.append(fault)
        await actions[step.name](fault)
        fault.applied_at = now()
        caught_up = partial(sampler.caught_up, thresholds, since=fault.applied_at)
        if await until(changed, caught_up, RECOVERY_TIMEOUT):
            fault.recovered_at = now()
        else:
            fault.notes.append(f"stages still behind after {RECOVERY_TIMEOUT:.0f} s: lag {sampler.lag}")
            # later faults would only pile onto a pipeline that is not working
            not_run(faults, FAULTS[number:], f"not run: the pipeline had not recovered from {step.name}")
            break
        await slots((number + 1) * share)
    else:
        tail = Fault("tail", "no fault, after the last one", started_at=now())
        tail.recovered_at = tail.started_at
        faults.append(tail)
    await traffic


def not_run(faults: list[Fault], steps: tuple[Step, ...], reason: str) -> None:
    for step in steps:
        faults.append(Fault(step.name, step.description, started_at=now(), notes=[reason]))


async def settle(load: Load, observer: Observer, sampler: LagSampler, changed: asyncio.Condition) -> float:
    """Wait until every send is acknowledged, every stage has committed everything and the
    observer has read it all, then until every alert due so far has had time to fire.
    Returns the time up to which alerts are expected."""
    await until(changed, lambda: load.unacked() == 0, SETTLE_TIMEOUT)
    sent = now()
    await until(
        changed,
        lambda: sampler.caught_up(dict.fromkeys(STAGES, 0), since=sent) and sampler.observer_at_end(observer),
        SETTLE_TIMEOUT,
    )
    expected = expected_alerts(observer)
    last_due = max((due for due, _ in expected.values()), default=now())

    def fired() -> bool:
        seen = {(a.conversation_id, a.kind) for a in observer.alerts}
        return now() > last_due and all(subject in seen for subject in expected)

    await until(changed, fired, max(0.0, last_due - now()) + 60)
    return min(now(), last_due)


def check(rows: list[Row], faults: list[Fault], observer: Observer) -> list[str]:
    failures: list[str] = []
    for row, fault in zip(rows, faults, strict=True):
        name = row.fault
        if not fault.ran:
            failures.append(f"{name}: {fault.notes[0]}")
            continue
        if row.lost:
            failures.append(f"{name}: {row.lost} of {row.good_sent} good messages never reached social.routed "
                            f"(e.g. cx{', cx'.join(f'{s:06d}' for s in row.lost_examples)})")  # fmt: skip
        if row.good_dead_lettered:
            failures.append(f"{name}: {row.good_dead_lettered} good messages were dead-lettered")
        if row.routed_duplicates > row.duplicate_bound:
            failures.append(f"{name}: {row.routed_duplicates} duplicates on social.routed, over the bound of "
                            f"{row.duplicate_bound}")  # fmt: skip
        if row.duplicate_alerts:
            failures.append(f"{name}: {row.duplicate_alerts} duplicate alerts (same conversation and kind)")
        if row.alerts_missing:
            failures.append(f"{name}: {row.alerts_missing} of {row.alerts_expected} alerts due never fired")
        if row.poison_sent and (row.poison_dead_lettered < row.poison_sent or row.poison_without_reason):
            missing = ", ".join(row.poison_missing)
            failures.append(f"{name}: {row.poison_dead_lettered} of {row.poison_sent} poison records in social.dlq "
                            f"({row.poison_without_reason} without a reason); missing: {missing}")  # fmt: skip
        if row.poison_delivered:
            failures.append(f"{name}: {row.poison_delivered} poison records reached social.routed")
        if row.neighbours_delivered < row.neighbours_sent:
            failures.append(f"{name}: only {row.neighbours_delivered} of {row.neighbours_sent} good neighbours of "
                            "poison records reached social.routed")  # fmt: skip
        if fault.down is not None and (not row.due_while_down or row.due_while_down_fired_once < row.due_while_down):
            failures.append(f"{name}: {row.due_while_down_fired_once} of {row.due_while_down} alerts that fell due "
                            "while the SLA monitor was down fired exactly once after its restart")  # fmt: skip
        if not row.recovered:
            failures.append(f"{name}: the stages did not catch up within {RECOVERY_TIMEOUT:.0f} s ({fault.notes})")
    if observer.dead_other:
        failures.append(f"{len(observer.dead_other)} dead letters of records this suite did not send")
    return failures


def write_report(
    rows: list[Row],
    faults: list[Fault],
    load: Load,
    observer: Observer,
    sampler: LagSampler,
    cpu: dict[str, float],
    failures: list[str],
    load_seconds: float,
) -> None:
    REPORT.parent.mkdir(exist_ok=True)
    report = {
        "messages": MESSAGES,
        "rate_per_second": RATE,
        "load_seconds": round(load_seconds, 1),
        "sla_target_seconds": SLA_TARGET,
        "poison_every": {"social.raw": Load.RAW_EVERY, "social.messages": Load.MESSAGES_EVERY},
        "in_flight_seconds": IN_FLIGHT,
        "duplicates_bound": "at most one batch (500) per consumer restarted or rewound by the fault",
        "rows": to_json(rows),
        "faults": to_json(faults),
        "cpu_percent_of_one_core": cpu,
        "send_retries": load.send_retries,
        "dead_letters_of_other_records": len(observer.dead_other),
        "routed_records_without_a_chaos_id": observer.routed_other,
        "lag_samples": [[round(t, 2), lag] for t, lag in sampler.samples],
        "failures": failures,
        "passed": not failures,
    }
    REPORT.write_text(json.dumps(report, indent=1))
