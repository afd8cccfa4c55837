"""``triage-local``: the whole pipeline on one machine (``make run``).

triage-local run [--no-demo] [--headless] [--duration S]   broker, topics, four services, demo, live view
triage-local view                                          the live view only, on a running pipeline
triage-local demo [--rate R] [--duration S]                the demo source only
triage-local asyncapi [--write PATH | --check PATH] [--validate]   the pipeline's AsyncAPI document
"""

import argparse
import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live

from triage_local import demo, settings_doc
from triage_local.board import Board
from triage_local.supervisor import Managed, Supervisor
from triage_local.view import follow, render, status_line, utcnow
from triage_runtime.kafka import KafkaSettings, ensure_topics
from triage_runtime.topics import TopicSettings

REPO = Path(__file__).resolve().parents[4]
KAFKA_SCRIPT = REPO / "deploy" / "local-kafka" / "kafka.sh"
RUN_DIR = REPO / ".run"
BIN = Path(sys.executable).parent
SERVICES = ("ingest", "classifier", "router", "sla-monitor")
PORT_BASE = 8001  # ingest 8001, classifier 8002, router 8003, sla-monitor 8004: the services' defaults


def service_env(service: str, port: int, with_demo: bool) -> dict[str, str]:
    prefix = "TRIAGE_" + service.upper().replace("-", "_") + "_"
    env = {f"{prefix}HTTP_HOST": "127.0.0.1", f"{prefix}HTTP_PORT": str(port)}
    if with_demo:
        env.update(demo.service_env(service))
    return env


def broker_reachable(kafka: KafkaSettings) -> bool:
    import socket

    host, _, port = kafka.bootstrap_servers.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1.0):
            return True
    except OSError:
        return False


async def run(args: argparse.Namespace) -> int:
    console = Console()
    run_dir: Path = args.run_dir
    ports = {service: args.port_base + n for n, service in enumerate(SERVICES)}
    supervisor = Supervisor(run_dir)
    leftovers = supervisor.leftovers()
    if leftovers:
        listed = ", ".join(f"{name} (pid {pid})" for name, pid in leftovers.items())
        pids = " ".join(map(str, leftovers.values()))
        console.print(f"[red]a previous run is still going: {listed}[/]; stop it with: kill {pids}")
        return 1
    kafka, topics = KafkaSettings(), TopicSettings()
    started_kafka = False
    if not broker_reachable(kafka):
        console.print(f"[bold]starting the local Kafka broker[/] ({KAFKA_SCRIPT.relative_to(REPO)} up)")
        await asyncio.to_thread(subprocess.run, [str(KAFKA_SCRIPT), "up"], check=True)
        started_kafka = True
    created = await ensure_topics(kafka, topics)
    console.print(f"topics ready ({len(created)} created)")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    board = Board()
    try:
        for service, port in ports.items():
            supervisor.start(
                Managed(
                    service,
                    [str(BIN / f"triage-{service}"), "serve"],
                    service_env(service, port, not args.no_demo),
                    run_dir / "logs" / f"{service}.log",
                    http_port=port,
                )
            )
        for managed in supervisor.processes:
            if not await unless_stopped(supervisor.wait_ready(managed), stop):
                return 130
            console.print(
                f"[green]✓[/] {managed.name:<12} pid {managed.pid:<7} http://127.0.0.1:{managed.http_port}/metrics"
            )
        console.print(f"wait times: http://127.0.0.1:{ports['sla-monitor']}/wait-times")
        console.print(f"logs: {run_dir}/logs/   stop: Ctrl-C")

        ready = asyncio.Event()
        viewer = asyncio.create_task(follow(kafka, topics, board, ready))
        if not await unless_stopped(view_ready(viewer, ready), stop):
            viewer.cancel()
            return 130
        if not args.no_demo:
            supervisor.start(
                Managed(
                    "demo",
                    [str(BIN / "triage-local"), "demo"],
                    {},
                    run_dir / "logs" / "demo.log",
                )
            )
            console.print("[bold]demo source[/] replaying platform events (brand replies on time for most)")
        await show(board, stop, args, supervisor, console)
        viewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await viewer
    except (RuntimeError, TimeoutError) as error:
        console.print(f"[red]{error or 'a service did not become ready in time'}[/] (logs in {run_dir}/logs/)")
        return 1
    finally:
        console.print("stopping every process started here ...")
        codes = supervisor.stop_all()
        console.print("  " + ", ".join(f"{name} exited {code}" for name, code in codes.items()))
        if started_kafka:
            await asyncio.to_thread(subprocess.run, [str(KAFKA_SCRIPT), "down"], check=False)
    return 0


async def view_ready(viewer: "asyncio.Task[None]", ready: asyncio.Event) -> None:
    """Wait until the view follows the topics, or raise why it could not."""
    waiting = asyncio.create_task(ready.wait())
    await asyncio.wait({viewer, waiting}, return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    if viewer.done():
        viewer.result()


async def unless_stopped(work: Coroutine[Any, Any, None], stop: asyncio.Event) -> bool:
    """Run ``work`` unless Ctrl-C comes first; True when it finished."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return False
    task.result()
    return True


async def show(
    board: Board, stop: asyncio.Event, args: argparse.Namespace, supervisor: Supervisor, console: Console
) -> None:
    deadline = time.monotonic() + args.duration if args.duration else None
    footer = "Ctrl-C stops every process started by make run"

    async def wait_tick(seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
        return stop.is_set() or (deadline is not None and time.monotonic() > deadline)

    if args.headless or not console.is_terminal:
        while not await wait_tick(5.0):
            print(status_line(board, utcnow()), flush=True)
            dead = [m.name for m in supervisor.processes if not m.alive()]
            if dead:
                print(f'{{"exited": {dead!r}}}'.replace("'", '"'), flush=True)
        return
    with Live(render(board, utcnow(), footer), console=console, refresh_per_second=2, screen=False) as live:
        while not await wait_tick(0.5):
            live.update(render(board, utcnow(), footer))


async def view_only() -> int:
    board = Board()
    ready = asyncio.Event()
    task = asyncio.create_task(follow(KafkaSettings(), TopicSettings(), board, ready))
    with Live(render(board, utcnow()), refresh_per_second=2) as live:
        try:
            while not task.done():
                await asyncio.sleep(0.5)
                live.update(render(board, utcnow()))
        except asyncio.CancelledError:
            pass
    return 0


def asyncapi_command(args: argparse.Namespace) -> int:
    from triage_local import asyncapi

    path: Path | None = args.write or args.check
    if path is None:
        sys.stdout.write(asyncapi.render())
        return 0
    if args.write:
        asyncapi.write(path)
        print(f"wrote {path}")
    elif asyncapi.stale(path):
        print(f"{path} is stale: run `make asyncapi`", file=sys.stderr)
        return 1
    if args.validate:
        try:
            result = asyncapi.validate(path)
        except asyncapi.ValidatorMissing as error:
            print(error, file=sys.stderr)
            return 1
        print(
            f"AsyncAPI CLI {asyncapi.cli_version()}: {result.stdout.strip()}",
            file=sys.stderr if result.returncode else sys.stdout,
        )
        if result.returncode:
            print(result.stderr.strip(), file=sys.stderr)
            return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="triage-local", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="run the whole pipeline locally")
    run_parser.add_argument("--no-demo", action="store_true", help="no demo source: for real traffic")
    run_parser.add_argument("--headless", action="store_true", help="status as JSON lines instead of the live view")
    run_parser.add_argument("--duration", type=float, default=0, help="stop by itself after this many seconds")
    run_parser.add_argument(
        "--port-base", type=int, default=PORT_BASE, help="HTTP port of ingest; the others follow (default 8001)"
    )
    run_parser.add_argument("--run-dir", type=Path, default=RUN_DIR, help="where logs and pid files go (default .run)")
    sub.add_parser("view", help="the live view of a running pipeline")
    docs_parser = sub.add_parser("settings-doc", help="write the settings reference into README.md")
    docs_parser.add_argument("--check", action="store_true", help="exit 1 when README.md is stale")
    asyncapi_parser = sub.add_parser("asyncapi", help="the pipeline's AsyncAPI document, from the services' code")
    target = asyncapi_parser.add_mutually_exclusive_group()
    target.add_argument("--write", type=Path, metavar="PATH", help="write it there (make asyncapi: docs/asyncapi.yaml)")
    target.add_argument("--check", type=Path, metavar="PATH", help="exit 1 when the file there is stale")
    asyncapi_parser.add_argument("--validate", action="store_true", help="then validate the file with the AsyncAPI CLI")
    demo_parser = sub.add_parser("demo", help="publish a realistic stream of raw platform events")
    demo.add_arguments(demo_parser)
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return asyncio.run(run(args))
        if args.command == "settings-doc":
            fresh = settings_doc.update(REPO / "README.md", check=args.check)
            if args.check and not fresh:
                print("README.md settings reference is stale: run `make docs`", file=sys.stderr)
                return 1
            return 0
        if args.command == "asyncapi":
            return asyncapi_command(args)
        if args.command == "view":
            return asyncio.run(view_only())
        return asyncio.run(demo.main(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
