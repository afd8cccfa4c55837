"""``triage-router``: run the service, or use its logic offline."""

import argparse
import sys

from triage_router.app import build
from triage_router.config import RouterSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="triage-router", description="social-triage router service")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="consume from Kafka and serve /metrics, /healthz, /readyz")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return build(RouterSettings()).run()
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
