"""``triage-router``: run the service, or use its logic offline."""

import argparse
import sys
from pathlib import Path
from typing import TextIO

from triage_router.app import build
from triage_router.config import RouterSettings
from triage_router.policy import DEFAULT_POLICY, PolicyError, RoutingPolicy, load_policy
from triage_router.records_io import classified_from, routed
from triage_runtime.delivery import Rejected
from triage_runtime.jsonlines import LineError, LineReport, Source, exit_status, read_json_lines, record_type_error
from triage_schemas.records import RECORD_MODELS

COMMAND = "triage-router route"


def route_lines(policy: RoutingPolicy, source: Source, out: TextIO, err: TextIO) -> int:
    """Route classified JSON lines; records of the other known types pass through
    unchanged; returns the number of rejected lines."""
    report = LineReport(out, err)
    for line in read_json_lines(source):
        if isinstance(line, LineError):
            report.reject(line)
            continue
        problem = record_type_error(line.value, RECORD_MODELS)
        if problem is not None:
            report.reject(LineError(line.number, problem))
            continue
        if line.value["record_type"] != "classified":
            report.pass_through(line)
            continue
        try:
            record = routed(classified_from(line.value), policy)
        except Rejected as rejected:
            report.reject(LineError(line.number, rejected.reason))
            continue
        report.write(line.number, [record])
    report.flush()
    return report.rejected


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="triage-router", description="social-triage router service")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="consume from Kafka and serve /metrics, /healthz, /readyz")
    check = sub.add_parser("check-policy", help="validate a routing policy file; non-zero exit with every error")
    check.add_argument("file", type=Path)
    route_cmd = sub.add_parser("route", help="route classified JSON lines from stdin to stdout")
    route_cmd.add_argument("--policy", type=Path, default=DEFAULT_POLICY, help="policy file (default: shipped)")
    bench_cmd = sub.add_parser("bench", help="routing decisions per second and peak RSS, offline")
    bench_cmd.add_argument("--count", type=int, default=20_000, help="synthetic classified messages to route")
    bench_cmd.add_argument("--policy", type=Path, default=DEFAULT_POLICY, help="policy file (default: shipped)")
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return build(RouterSettings()).run()
        if args.command == "check-policy":
            policy = load_policy(args.file)
            print(f"{args.file}: ok (version {policy.version}, {len(policy.triggers)} triggers)")
            return 0
        if args.command == "route":
            policy = load_policy(args.policy)
            return exit_status(COMMAND, route_lines(policy, sys.stdin, sys.stdout, sys.stderr), sys.stderr)
        if args.command == "bench":
            from triage_router.bench import run

            return run(args.count, args.policy)
    except PolicyError as error:
        print(error, file=sys.stderr)
        return 1
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
