"""``triage-sla-monitor``: run the service, or replay history through the clock offline."""

import argparse
import sys
from datetime import datetime
from pathlib import Path

import yaml
from pydantic import ValidationError

from triage_schemas.jsonlines import exit_status, validation_summary
from triage_schemas.policy import SlaPolicy


def load_policy(path: Path) -> SlaPolicy:
    """Only the ``sla:`` section of the router's policy file matters here."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the policy file must be a mapping")
    return SlaPolicy.model_validate(data.get("sla") or {})


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
    rp.add_argument("--policy", type=Path, required=True, help="the router's policy YAML (its sla: section is used)")
    rp.add_argument("--until", help="stop the virtual clock at this ISO-8601 time (default: run every open clock out)")
    rp.add_argument("events", help="JSON lines file, or - for stdin")
    args = parser.parse_args(argv)
    if args.command == "serve":
        from triage_sla_monitor.app import build
        from triage_sla_monitor.config import SlaMonitorSettings

        return build(SlaMonitorSettings()).run()
    from triage_sla_monitor.replay import print_summary, replay

    try:
        policy = load_policy(args.policy)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        reason = validation_summary(exc) if isinstance(exc, ValidationError) else str(exc)
        print(f"triage-sla-monitor: bad policy: {reason}", file=sys.stderr)
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
    # Rejected lines are counted in the summary; the exit status stays 0 so a replay
    # over imperfect history still counts as a run (the summary says how imperfect).
    bad = summary["bad_lines"]
    exit_status("triage-sla-monitor replay", bad if isinstance(bad, int) else 0, sys.stderr)
    print_summary(summary, sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
