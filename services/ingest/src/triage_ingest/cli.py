"""``triage-ingest``: run the service, or check platform payloads offline.

  triage-ingest serve
  triage-ingest normalize --platform PLATFORM FILE|-

``normalize`` reads one platform payload (a JSON document), or JSON lines of payloads or
raw envelopes, and prints the normalised messages and brand-reply conversation events as
JSON lines; a bad payload is reported on stderr with its line number and the run exits 1.
"""

import argparse
import json
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from triage_ingest.app import build, build_normalizer
from triage_ingest.config import IngestSettings
from triage_ingest.normalize import Normalized, Normalizer
from triage_schemas.delivery import Rejected
from triage_schemas.enums import Platform


def _documents(text: str) -> Iterator[tuple[int, str]]:
    """One JSON document, or JSON lines (numbered from 1)."""
    stripped = text.strip()
    if not stripped:
        return
    try:
        json.loads(stripped)
    except json.JSONDecodeError:
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield number, line
        return
    yield 1, stripped


def normalize_one(normalizer: Normalizer, document: str, platform: Platform | None) -> Normalized:
    try:
        data = json.loads(document)
    except json.JSONDecodeError as error:
        raise Rejected(f"not JSON: {error.msg} at column {error.colno}") from None
    if isinstance(data, dict) and data.get("record_type") == "raw_envelope":
        return normalizer.record(document.encode("utf-8"), time.time())
    if platform is None:
        raise Rejected("a bare platform payload needs --platform (or wrap it in a raw_envelope)")
    if not isinstance(data, dict):
        raise Rejected(f"a {platform.value} payload is a JSON object, not a {type(data).__name__}")
    return normalizer.payload(platform, data, datetime.now(UTC), None, time.time())


def normalize(text: str, platform: Platform | None, out: TextIO, err: TextIO) -> int:
    normalizer = build_normalizer(IngestSettings())
    failures = 0
    for number, document in _documents(text):
        try:
            result = normalize_one(normalizer, document, platform)
        except Rejected as rejected:
            failures += 1
            print(f"line {number}: {rejected.reason}", file=err)
            continue
        for record in (*result.messages, *result.events):
            out.write(record.model_dump_json() + "\n")
        skipped = sum(result.skipped.values())
        if skipped or result.duplicates:
            kinds = ", ".join(f"{kind} x{count}" for kind, count in sorted(result.skipped.items()))
            print(f"line {number}: skipped {skipped} non-message event(s) ({kinds}), {result.duplicates} duplicate(s)",
                  file=err)  # fmt: skip
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="triage-ingest", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="consume social.raw; serve /metrics, /healthz, /readyz (and /webhooks when enabled)")
    check = sub.add_parser("normalize", help="print the normalised records of platform payloads (JSON lines)")
    check.add_argument("--platform", choices=[p.value for p in Platform], help="platform of bare payloads")
    check.add_argument("file", help="a JSON payload, JSON lines of payloads or raw envelopes, or - for stdin")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return build(IngestSettings()).run()
    platform = Platform(args.platform) if args.platform else None
    try:
        raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
        text = raw.decode("utf-8")
    except OSError as error:
        print(f"cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return 2
    except UnicodeDecodeError as error:
        print(f"{args.file} is not UTF-8 (byte {error.start}: {error.reason})", file=sys.stderr)
        return 1
    return normalize(text, platform, sys.stdout, sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
