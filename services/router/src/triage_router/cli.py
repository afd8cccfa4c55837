"""``triage-router``: run the service, or use its logic offline."""

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError

from triage_router.app import build
from triage_router.config import RouterSettings
from triage_router.policy import DEFAULT_POLICY, PolicyError, RoutingPolicy, load_policy
from triage_router.routing import route
from triage_schemas.records import ClassifiedMessage


def route_lines(policy: RoutingPolicy, source: TextIO, out: TextIO, err: TextIO) -> int:
    """Route classified JSON lines; other record types pass through; returns the bad-line count."""
    bad = 0
    for number, line in enumerate(source, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as error:
            bad += 1
            print(f"line {number}: not JSON: {error}", file=err)
            continue
        if not isinstance(data, dict) or data.get("record_type") != "classified":
            out.write(line if line.endswith("\n") else line + "\n")
            continue
        try:
            message = ClassifiedMessage.model_validate(data)
        except ValidationError as error:
            bad += 1
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(record)"
            print(f"line {number}: not a classified record: {where}: {first['msg']}", file=err)
            continue
        out.write(route(message, policy).model_dump_json() + "\n")
    return bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="triage-router", description="social-triage router service")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="consume from Kafka and serve /metrics, /healthz, /readyz")
    check = sub.add_parser("check-policy", help="validate a routing policy file; non-zero exit with every error")
    check.add_argument("file", type=Path)
    route_cmd = sub.add_parser("route", help="route classified JSON lines from stdin to stdout")
    route_cmd.add_argument("--policy", type=Path, default=DEFAULT_POLICY, help="policy file (default: shipped)")
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
            route_lines(policy, sys.stdin, sys.stdout, sys.stderr)
            return 0
    except PolicyError as error:
        print(error, file=sys.stderr)
        return 1
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
