"""``triage-ingest``: run the service, or check platform payloads offline.

  triage-ingest serve
  triage-ingest normalize --platform PLATFORM FILE|-

``normalize`` reads one platform payload (a JSON document), or JSON lines of payloads or
raw envelopes, and prints the normalised messages and brand-reply conversation events as
JSON lines. Every input answers on its own: with records, with ``line N: reason`` on
stderr when it is rejected, or with a ``line N:`` note when it held no message (only
read receipts, say). The run exits 1 when any input was rejected.
"""

import argparse
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from triage_ingest.app import build, build_normalizer
from triage_ingest.config import IngestSettings
from triage_ingest.normalize import Normalized, Normalizer
from triage_runtime import safejson
from triage_runtime.delivery import Rejected
from triage_runtime.jsonlines import Line, LineError, LineReport, exit_status, read_json_lines
from triage_schemas.enums import Platform

COMMAND = "triage-ingest normalize"


def _documents(raw: bytes) -> Iterator[Line | LineError]:
    """One JSON document (a payload as saved from a webhook, pretty-printed over many
    lines), else JSON lines numbered from 1."""
    if raw.count(b"\n", 0, len(raw.rstrip())) > 0:
        try:
            text = raw.decode("utf-8")
            yield Line(1, safejson.loads(text), text.strip())
            return
        except (UnicodeDecodeError, safejson.BadJson):
            pass  # not one document: read it line by line, so each bad line is named
    yield from read_json_lines([raw])


def normalize_one(normalizer: Normalizer, line: Line, platform: Platform | None) -> Normalized:
    data: Any = line.value
    if isinstance(data, dict) and data.get("record_type") == "raw_envelope":
        return normalizer.record(line.text.encode("utf-8"), time.time())
    if platform is None:
        raise Rejected("a bare platform payload needs --platform (or wrap it in a raw_envelope)")
    if not isinstance(data, dict):
        raise Rejected(f"a {platform.value} payload is a JSON object, not a {type(data).__name__}")
    return normalizer.payload(platform, data, datetime.now(UTC), None, time.time())


def _normalized(normalizer: Normalizer, line: Line, platform: Platform | None) -> Normalized | LineError:
    try:
        return normalize_one(normalizer, line, platform)
    except Rejected as rejected:
        return LineError(line.number, rejected.reason)
    except (ValueError, ArithmeticError, RecursionError, OSError) as error:
        # A payload shape the normalizer does not guard against (a timestamp past the
        # calendar, say): still this input's fault, and the next input deserves an answer.
        return LineError(line.number, f"cannot normalize this input ({type(error).__name__}: {error})")


def normalize(source: bytes, platform: Platform | None, out: TextIO, err: TextIO) -> int:
    normalizer = build_normalizer(IngestSettings())
    report = LineReport(out, err)
    for item in _documents(source):
        if isinstance(item, LineError):
            report.reject(item)
            continue
        result = _normalized(normalizer, item, platform)
        if isinstance(result, LineError):
            report.reject(result)
            continue
        records = (*result.messages, *result.events)
        if not report.write(item.number, records):
            continue
        skipped = sum(result.skipped.values())
        if skipped or result.duplicates:
            kinds = ", ".join(f"{kind} x{count}" for kind, count in sorted(result.skipped.items()))
            report.note(
                item.number,
                f"skipped {skipped} non-message event(s) ({kinds}), {result.duplicates} duplicate(s)",
            )
        elif not records:
            report.note(item.number, f"no message in this {result.platform.value} payload (nothing to normalize)")
    report.flush()
    return exit_status(COMMAND, report.rejected, err)


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
    except OSError as error:
        print(f"triage-ingest: cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return 2
    return normalize(raw, platform, sys.stdout, sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
