"""A whole cluster of the suite's own, shared by the chaos suite and the pipeline benchmark:
a broker on free ports (never the developer's 127.0.0.1:9092), the four services as
processes wired to given topics, their CPU time from /proc, and realistic raw envelopes
from the demo's payload builders, each carrying a token its text keeps to social.routed.
"""

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tests.harness import BrokerUnavailable, ServiceProcess, free_port, topic_env
from triage_local.demo import SCRIPT
from triage_local.payloads import BRAND_IDS, INBOUND, Customer
from triage_runtime.topics import TopicSettings
from triage_schemas.records import RawEnvelope

REPO = Path(__file__).resolve().parent.parent
KAFKA_SCRIPT = REPO / "deploy" / "local-kafka" / "kafka.sh"
STAGES = ("ingest", "classifier", "router", "sla-monitor")


# --- broker ------------------------------------------------------------------------------


@dataclass
class Broker:
    """A broker of our own (deploy/local-kafka/kafka.sh) on free ports, never the shared one."""

    state_dir: Path
    port: int = field(default_factory=free_port)
    controller_port: int = field(default_factory=free_port)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pidfile(self) -> Path:
        return self.state_dir / "kafka.pid"

    def _script(self, command: str, timeout: float) -> "subprocess.CompletedProcess[str]":
        # Inherited TRIAGE_KAFKA_* (listener security, extra config) belong to the shared broker.
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_KAFKA_")}
        env |= {
            "TRIAGE_KAFKA_PORT": str(self.port),
            "TRIAGE_KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "TRIAGE_KAFKA_STATE_DIR": str(self.state_dir),
        }
        return subprocess.run([str(KAFKA_SCRIPT), command], env=env, capture_output=True, text=True, timeout=timeout)

    def up(self) -> None:
        """Start (or restart, on the same data) the broker; ``BrokerUnavailable`` when it cannot."""
        try:
            started = self._script("up", timeout=300)
        except subprocess.TimeoutExpired:
            raise BrokerUnavailable(f"the broker did not start within 300 s (state in {self.state_dir})") from None
        if started.returncode != 0 or not port_open(self.port):
            logs = "".join(
                f"\n== {log}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
                for log in sorted((self.state_dir / "logs").glob("*.log"))
            )
            raise BrokerUnavailable(
                f"the broker could not be started on {self.bootstrap} ({KAFKA_SCRIPT} up exited "
                f"{started.returncode}):\n{started.stderr[-3000:]}{logs[-3000:]}"
            )

    def pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            return int(self.pidfile.read_text().strip())
        return None

    def kill(self, timeout: float = 30.0) -> None:
        """kill -9 the broker and wait until it is gone (it is not our child: nobody waits for it here)."""
        pid = self.pid()
        assert pid is not None, f"no pid file in {self.state_dir}"
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while alive(pid) or port_open(self.port):
            if time.monotonic() > deadline:
                raise AssertionError(f"the broker (pid {pid}) still runs {timeout} s after kill -9")
            time.sleep(0.05)
        # kafka.sh takes a pid that is not reaped yet for a running broker: the pid file must go.
        self.pidfile.unlink(missing_ok=True)

    def down(self) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._script("down", timeout=60)
        pid = self.pid()
        if pid is not None and alive(pid):
            os.kill(pid, signal.SIGKILL)


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def alive(pid: int) -> bool:
    """True while the process runs; a zombie (killed, not yet reaped) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of a process (all its threads), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


# --- services ----------------------------------------------------------------------------


class Services:
    """The four services, each its own process, on ``bootstrap`` with ``topics``;
    ``env`` may be overridden to add what a run needs (a policy, consumer groups)."""

    def __init__(self, bootstrap: str, topics: TopicSettings, log_dir: Path) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.log_dir = log_dir
        self.running: dict[str, ServiceProcess] = {}
        self.started = 0
        self.cpu: dict[int, tuple[str, float]] = {}  # pid: (stage, last CPU seconds seen)

    def env(self, stage: str) -> dict[str, str]:
        return {"TRIAGE_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, **topic_env(self.topics)}

    def launch(self, stage: str) -> ServiceProcess:
        """Start ``stage``'s process without waiting for it to be ready."""
        self.started += 1
        process = ServiceProcess(stage, self.env(stage), log_path=self.log_dir / f"{self.started:02d}-{stage}.log")
        process.start()
        self.running[stage] = process
        return process

    async def start(self, stage: str, ready_timeout: float = 180.0) -> ServiceProcess:
        process = self.launch(stage)
        await process.wait_ready(timeout=ready_timeout)
        return process

    async def start_all(self, stages: Iterable[str] = STAGES) -> None:
        await asyncio.gather(*(self.start(stage) for stage in stages))

    def kill(self, stage: str) -> None:
        process = self.running[stage]
        self.sample_cpu()
        code = process.stop(signal.SIGKILL)
        assert code == -signal.SIGKILL, f"{stage} had already exited ({code}) before kill -9: {process.log_tail()}"

    def stop_all(self) -> None:
        self.sample_cpu()
        for process in self.running.values():
            if process.process is not None and process.process.poll() is None:
                process.stop(signal.SIGTERM, timeout=30)

    def pid(self, stage: str) -> int:
        process = self.running[stage].process
        assert process is not None
        return process.pid

    def cpu_now(self, stage: str) -> float:
        """CPU seconds ``stage``'s running process has used so far."""
        seconds = cpu_seconds(self.pid(stage))
        if seconds is None:
            raise AssertionError(f"{stage} is not running: {self.running[stage].log_tail()}")
        return seconds

    def sample_cpu(self) -> None:
        for stage, process in self.running.items():
            if process.process is not None:
                seconds = cpu_seconds(process.process.pid)
                if seconds is not None:
                    self.cpu[process.process.pid] = (stage, seconds)

    def cpu_by_stage(self) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for stage, seconds in self.cpu.values():
            totals[stage] += seconds
        return dict(totals)


# --- realistic input ---------------------------------------------------------------------


def customer(seq: int, kind: str, tag: str = "chaos") -> Customer:
    """One customer per message: every message opens its own conversation and its own clock."""
    ident = f"UC{tag}{seq:08d}" if kind == "youtube_comment" else str(9_000_000_000 + seq)
    return Customer(ident, f"cx_{seq}", f"{tag.title()} Customer", 300)


def demo_envelope(seq: int, token: str, source: str) -> tuple[str, str, bytes]:
    """(event kind, key, envelope bytes) of message ``seq``: a demo platform event from every
    platform in turn whose text ends with ``token``, which every stage keeps, so its arrival
    on social.routed can be told apart from any other message's."""
    kind, text = SCRIPT[seq % len(SCRIPT)]
    who = customer(seq, kind, source)
    event = INBOUND[kind](secrets.token_hex(8), who, f"{text} {token}", datetime.now(UTC))
    envelope = RawEnvelope(
        platform=event.platform,
        received_at=datetime.now(UTC),
        payload=event.payload,
        source=source,
        account_id=BRAND_IDS.get(event.platform),
    )
    return kind, f"{event.platform.value}:{who.id}", envelope.to_json_bytes()


# --- waiting -----------------------------------------------------------------------------


async def until(changed: asyncio.Condition, condition: Callable[[], bool], timeout: float) -> bool:
    """Wait until ``condition`` holds, re-checked whenever an output or a sample changes;
    False when ``timeout`` passes first."""
    try:
        async with asyncio.timeout(timeout), changed:
            await changed.wait_for(condition)
        return True
    except TimeoutError:
        return False
