"""``make bench-sla``: resident memory and timer accuracy with a million open clocks.

Measures the in-memory clock store and the timer loop the service runs (fire due
alerts every tick), without Kafka: the figures are the store's, not the broker's.
"""

import argparse
import asyncio
import random
import resource
import statistics
import time
from pathlib import Path

from triage_schemas.enums import Lane
from triage_schemas.policy import AlertFractions
from triage_sla_monitor.clock import ClockStore, Subject

LANES = tuple(str(lane) for lane in Lane)


def rss_mib() -> float:
    with Path("/proc/self/status").open(encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(clocks: int, window: float, tick: float, seed: int) -> int:
    rng = random.Random(seed)
    store = ClockStore(AlertFractions())
    subjects = [
        Subject(lane, "P2", "payment_issue", "support-lead", 1, "instagram", "direct_message", 3600) for lane in LANES
    ]
    base_rss = rss_mib()
    now = time.time()
    started = time.perf_counter()
    due_soon = clocks // 50
    # most clocks are far from due
    for i in range(due_soon, clocks):
        start = now - rng.uniform(0, 0.7 * 3600)
        store.customer_message(f"instagram:conversation:{i:09d}", start, subjects[i % len(subjects)])
    # a slice reaches its warning inside the measured window, which starts once all are loaded
    now = time.time()
    for i in range(due_soon):
        start = now - 0.8 * 3600 + rng.uniform(1.0, window)
        store.customer_message(f"instagram:conversation:{i:09d}", start, subjects[i % len(subjects)])
    load_seconds = time.perf_counter() - started
    rss = rss_mib()
    print(f"clocks open: {len(store):,} (loaded in {load_seconds:.1f}s)")
    print(f"resident memory: {rss:.0f} MiB total, {rss - base_rss:.0f} MiB for the clocks (limit 1024 MiB)")
    lateness: list[float] = []
    deadline = time.time() + window + 1.0
    while time.time() < deadline:
        tick_at = time.time()
        for alert in store.fire(tick_at):
            lateness.append(time.time() - alert.due_at)
        await asyncio.sleep(tick)
    if not lateness:
        print("no alert fell due in the window")
        return 1
    lateness.sort()
    p99 = lateness[int(len(lateness) * 0.99) - 1]
    print(
        f"alerts fired: {len(lateness):,}; lateness after due time: "
        f"median {statistics.median(lateness) * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms, max {lateness[-1] * 1000:.0f} ms (limit 1000 ms)"
    )
    ok = rss <= 1024 and lateness[-1] <= 1.0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="triage-sla-monitor bench", description="SLA monitor clock store benchmark")
    parser.add_argument("--clocks", type=int, default=1_000_000)
    parser.add_argument("--window", type=float, default=10.0, help="seconds during which alerts fall due")
    parser.add_argument("--tick", type=float, default=0.25, help="timer tick, as TRIAGE_SLA_MONITOR_TICK_SECONDS")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    return asyncio.run(run(args.clocks, args.window, args.tick, args.seed))


if __name__ == "__main__":
    raise SystemExit(main())
