"""``triage-classifier``: run the service, or use its logic offline."""

import argparse
import sys

from triage_classifier.app import build
from triage_classifier.config import ClassifierSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="triage-classifier", description="social-triage classifier service")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="consume from Kafka and serve /metrics, /healthz, /readyz")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return build(ClassifierSettings()).run()
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
