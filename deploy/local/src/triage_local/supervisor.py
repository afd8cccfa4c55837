"""Start the pipeline's processes, watch them, and stop every one of them by pid."""

import asyncio
import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import httpx


@dataclass
class Managed:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    http_port: int | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class Supervisor:
    run_dir: Path
    processes: list[Managed] = field(default_factory=list)

    @property
    def pid_dir(self) -> Path:
        return self.run_dir / "pids"

    def leftovers(self) -> dict[str, int]:
        """Processes a previous run recorded and that still run (it was killed, not stopped)."""
        alive = {}
        for pid_file in sorted(self.pid_dir.glob("*.pid")) if self.pid_dir.exists() else []:
            with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
                pid = int(pid_file.read_text())
                os.kill(pid, 0)
                alive[pid_file.stem] = pid
                continue
            pid_file.unlink(missing_ok=True)
        return alive

    def start(self, managed: Managed) -> Managed:
        self.pid_dir.mkdir(parents=True, exist_ok=True)
        managed.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = managed.log_path.open("ab")
        # Its own session, so the terminal's Ctrl-C reaches only the supervisor, which
        # then stops the pipeline in order: sources first, consumers after.
        managed.process = subprocess.Popen(
            managed.argv,
            env={**os.environ, **managed.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        (self.pid_dir / f"{managed.name}.pid").write_text(str(managed.pid))
        self.processes.append(managed)
        return managed

    async def wait_ready(self, managed: Managed, timeout: float = 90.0) -> None:
        assert managed.http_port is not None
        url = f"http://127.0.0.1:{managed.http_port}/readyz"
        async with httpx.AsyncClient(timeout=2.0) as client, asyncio.timeout(timeout):
            while True:
                if not managed.alive():
                    raise RuntimeError(f"{managed.name} exited; see {managed.log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(url)).status_code == 200:
                        return
                await asyncio.sleep(0.25)

    def stop_all(self, grace_seconds: float = 30.0) -> dict[str, int]:
        """SIGTERM each process, newest first; SIGKILL what is left after the grace period."""
        exit_codes: dict[str, int] = {}
        for managed in reversed(self.processes):
            if managed.alive():
                assert managed.process is not None
                managed.process.send_signal(signal.SIGTERM)
                try:
                    managed.process.wait(grace_seconds)
                except subprocess.TimeoutExpired:
                    managed.process.kill()
                    managed.process.wait()
            if managed.process is not None:
                exit_codes[managed.name] = int(managed.process.returncode)
            (self.pid_dir / f"{managed.name}.pid").unlink(missing_ok=True)
        return exit_codes
