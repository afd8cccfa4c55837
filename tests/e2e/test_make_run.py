"""`make run`'s runner: all four services up, routed messages, a breach and the staged
surge from the demo within minutes, and Ctrl-C leaves no process behind."""

import asyncio
import json
import os
import random
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import STAGES
from tests.harness import VENV_BIN, KafkaHarness, topic_env

pytestmark = pytest.mark.kafka


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for every purpose but the process table.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ", 1)[1][:1] != "Z"


async def test_demo_run_shows_routed_messages_a_breach_and_a_surge_and_ctrl_c_stops_everything(
    kafka: KafkaHarness, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    port_base = random.randrange(20_000, 40_000, 10)
    runner = await asyncio.create_subprocess_exec(
        str(VENV_BIN / "triage-local"), "run", "--headless", "--port-base", str(port_base), "--run-dir", str(run_dir),
        env={**os.environ, "TRIAGE_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap, **topic_env(kafka.topics)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert runner.stdout is not None
    try:
        await _until_breach_then_ctrl_c(runner, run_dir, port_base)
    finally:
        if runner.returncode is None:
            runner.send_signal(signal.SIGINT)
            await asyncio.wait_for(runner.wait(), 90)


async def _until_breach_then_ctrl_c(runner: asyncio.subprocess.Process, run_dir: Path, port_base: int) -> None:
    assert runner.stdout is not None
    seen: list[str] = []
    status: dict[str, Any] = {}
    try:
        async with asyncio.timeout(300):
            while True:
                line = (await runner.stdout.readline()).decode(errors="replace")
                assert line, "triage-local run ended early:\n" + "".join(seen[-30:])
                seen.append(line)
                if line.startswith('{"at"'):
                    status = json.loads(line)
                    breaches = sum(lane["breaches"] for lane in status["lanes"].values())
                    # the demo's roster: its agents take conversations, so some are open; two
                    # minutes in, its payment outage floods Instagram
                    surging = status["surges"]
                    if status["routed"] and breaches and status["agents"]["open"] and "platform:instagram" in surging:
                        break
    except TimeoutError:
        last = "".join(seen[-30:])
        raise AssertionError(
            f"no routed message, breach, assigned agent and Instagram surge within the time limit:\n{last}"
        ) from None
    output = "".join(seen)
    pids = {p.stem: int(p.read_text()) for p in (run_dir / "pids").glob("*.pid")}
    assert set(pids) == {*STAGES, "demo"}
    # Each stage's own ready line: its pid and its metrics URL on its port (port base + its
    # place in the order); one stage missing or wrong fails with its name.
    ready = {
        match["stage"]: (int(match["pid"]), int(match["port"]))
        for match in re.finditer(r"^✓ (?P<stage>[\w-]+) +pid (?P<pid>\d+) +http://127\.0\.0\.1:(?P<port>\d+)/metrics$",
                                 output, re.MULTILINE)
    }  # fmt: skip
    wrong = {
        stage: ready.get(stage, "no ready line")
        for n, stage in enumerate(STAGES)
        if ready.get(stage) != (pids.get(stage), port_base + n)
    }
    assert wrong == {}, f"stages without their ready line and metrics URL: {wrong}\n{output}"
    assert f"wait times: http://127.0.0.1:{port_base + STAGES.index('sla-monitor')}/wait-times" in output

    runner.send_signal(signal.SIGINT)  # what Ctrl-C sends
    rest, _ = await asyncio.wait_for(runner.communicate(), 90)
    assert runner.returncode == 0, rest.decode(errors="replace")
    codes = dict(re.findall(r"([\w-]+) exited (-?\d+)", rest.decode(errors="replace")))
    assert codes == dict.fromkeys(pids, "0"), codes  # every process stopped cleanly, by SIGTERM
    assert [name for name, pid in pids.items() if alive(pid)] == []
    assert list((run_dir / "pids").glob("*.pid")) == []
