"""``triage-sla-monitor``: run the service, or replay history through the clock offline."""

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from triage_runtime.jsonlines import exit_status
from triage_schemas.policy import ClockPolicy
from triage_sla_monitor.config import PolicyFileError, load_clock_policy


def load_policy(path: Path) -> ClockPolicy:
    """The ``calendars:`` and ``sla:`` sections of the router's policy file."""
    return load_clock_policy(path)


def parse_until(text: str) -> float:
    """``--until`` as epoch seconds; like every record's timestamp it must carry its zone."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("not an ISO-8601 time (e.g. 2026-11-22T18:00:00Z)") from None
    if moment.tzinfo is None:
        raise ValueError("needs a zone offset (e.g. 2026-11-22T18:00:00Z), as every record's timestamp has")
    return moment.timestamp()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="triage-sla-monitor", description="social-triage sla-monitor service")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="consume from Kafka and serve /metrics, /healthz, /readyz, /wait-times")
    rp = sub.add_parser("replay", help="run routed messages and conversation events through the clock in virtual time")
    rp.add_argument("--policy", type=Path, required=True, help="the router's policy YAML (calendars: and sla:)")
    rp.add_argument("--until", help="stop the virtual clock at this ISO-8601 time (default: run every open clock out)")
    rp.add_argument("--summary-json", type=Path, help="also write the per-lane summary to this file (for compare)")
    rp.add_argument("events", help="JSON lines file, or - for stdin")
    cp = sub.add_parser("compare", help="per-lane differences between two replay summaries (--summary-json files)")
    cp.add_argument("a", type=Path, help="summary of policy A")
    cp.add_argument("b", type=Path, help="summary of policy B")
    sub.add_parser("bench", help="resident memory and timer accuracy with many open clocks (--help for options)")
    args, rest = parser.parse_known_args(argv)
    if args.command == "bench":
        from triage_sla_monitor import bench

        return bench.main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "serve":
        from triage_sla_monitor.app import build
        from triage_sla_monitor.config import SlaMonitorSettings

        return build(SlaMonitorSettings()).run()
    if args.command == "compare":
        return compare_command(args.a, args.b)
    return replay_command(args)


def replay_command(args: argparse.Namespace) -> int:
    from triage_sla_monitor.replay import print_summary, replay

    try:
        policy = load_policy(args.policy)
    except PolicyFileError as exc:
        print(f"triage-sla-monitor: bad policy: {exc}", file=sys.stderr)
        return 2
    try:
        until = parse_until(args.until) if args.until else None
    except ValueError as exc:
        print(f"triage-sla-monitor: --until {args.until!r}: {exc}", file=sys.stderr)
        return 2
    if args.events == "-":
        summary = replay(policy, sys.stdin, sys.stdout, sys.stderr, until)
    else:
        try:
            # bytes: decoded line by line, so a bad byte costs one line; closed by the with below
            events = Path(args.events).open("rb")  # noqa: SIM115
        except OSError as exc:
            print(f"triage-sla-monitor: cannot read {args.events}: {exc.strerror}", file=sys.stderr)
            return 2
        with events:
            summary = replay(policy, events, sys.stdout, sys.stderr, until)
    # Like classify and route: the run's output stands, and the exit status says lines were
    # rejected; the summary stays the last line on stderr.
    bad = summary["bad_lines"]
    status = exit_status("triage-sla-monitor replay", bad if isinstance(bad, int) else 0, sys.stderr)
    print_summary(summary, sys.stderr)
    if args.summary_json is not None:
        try:
            args.summary_json.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"triage-sla-monitor: cannot write {args.summary_json}: {exc.strerror}", file=sys.stderr)
            return 2
    return status


def _summary(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("lanes"), dict):
        raise ValueError("not a replay summary (write one with replay --summary-json)")
    return data


def compare_command(a: Path, b: Path) -> int:
    from triage_sla_monitor.replay import compare, format_comparison

    summaries = []
    for path in (a, b):
        try:
            summaries.append(_summary(path))
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else str(exc)
            print(f"triage-sla-monitor: {path}: {reason}", file=sys.stderr)
            return 2
    label_a = str(summaries[0].get("policy_version") or a.stem)
    label_b = str(summaries[1].get("policy_version") or b.stem)
    print(format_comparison(compare(*summaries), label_a, label_b))
    return 0


if __name__ == "__main__":
    sys.exit(main())
