"""``triage-sla-monitor``: run the service, or replay history through the clock offline."""

import argparse
import sys
from datetime import datetime
from pathlib import Path

import yaml
from pydantic import ValidationError

from triage_schemas.policy import SlaPolicy


def load_policy(path: Path) -> SlaPolicy:
    """Only the ``sla:`` section of the router's policy file matters here."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the policy file must be a mapping")
    return SlaPolicy.model_validate(data.get("sla") or {})


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
    except (OSError, ValueError, ValidationError, yaml.YAMLError) as exc:
        print(f"triage-sla-monitor: bad policy: {exc}", file=sys.stderr)
        return 2
    until = datetime.fromisoformat(args.until).timestamp() if args.until else None
    if args.events == "-":
        summary = replay(policy, sys.stdin, sys.stdout, sys.stderr, until)
    else:
        with Path(args.events).open(encoding="utf-8", errors="replace") as lines:
            summary = replay(policy, lines, sys.stdout, sys.stderr, until)
    print_summary(summary, sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
