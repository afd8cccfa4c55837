"""The SLA monitor's state as compacted-topic values (JSON), and back: a clock (``None``
is the tombstone) and a surge watch."""

import json
import math
from collections import Counter, deque
from dataclasses import asdict
from typing import Any

from triage_sla_monitor.clock import Clock, Subject
from triage_sla_monitor.surges import Baseline, Dimension, Watch, Window

STATE_VERSION = 2
"""2 added the next-response flag, the opening time and the reply-window deadline; a
version-1 value loads with those absent (a first-response clock without a window)."""


def _num(value: float) -> float | None:
    return value if math.isfinite(value) else None


def dump(clock: Clock) -> bytes:
    data: dict[str, Any] = {
        "v": STATE_VERSION,
        "subject": asdict(clock.subject) if clock.subject is not None else None,
        "number": clock.number,
        "started_at": clock.started_at,
        "answered_at": clock.answered_at,
        "paused_since": clock.paused_since,
        "paused_total": clock.paused_total,
        "last_pause_change": _num(clock.last_pause_change),
        "alerts_sent": clock.alerts_sent,
        "resolved_at": clock.resolved_at,
        "next_response": clock.next_response,
        "opened_at": clock.opened_at,
        "window_deadline": clock.window_deadline,
    }
    if clock.traceparent is not None:  # optional, only while tracing is on; older readers ignore it
        data["traceparent"] = clock.traceparent
    return json.dumps(data, separators=(",", ":")).encode()


def load(conversation_id: str, value: bytes) -> Clock:
    data = json.loads(value)
    subject = Subject(**data["subject"]) if data.get("subject") else None
    last = data.get("last_pause_change")
    return Clock(
        conversation_id,
        subject=subject,
        number=int(data["number"]),
        started_at=data.get("started_at"),
        answered_at=data.get("answered_at"),
        paused_since=data.get("paused_since"),
        paused_total=float(data.get("paused_total", 0.0)),
        last_pause_change=float("-inf") if last is None else float(last),
        alerts_sent=int(data.get("alerts_sent", 0)),
        resolved_at=data.get("resolved_at"),
        next_response=bool(data.get("next_response", False)),
        opened_at=data.get("opened_at", data.get("started_at")),
        window_deadline=data.get("window_deadline"),
        traceparent=traceparent if isinstance(traceparent := data.get("traceparent"), str) else None,
    )


# --- surge watches --------------------------------------------------------------------
# A dimension's watch shares the state topic with the clocks under a key no conversation
# id can have (ingest's conversation ids start with their platform), on the state
# partition of the volume partition that counts it.
WATCH_PREFIX = "surge|"
WATCH_VERSION = 1


def watch_key(dimension: Dimension) -> str:
    return f"{WATCH_PREFIX}{dimension[0]}|{dimension[1]}"


def watch_dimension(key: str) -> Dimension | None:
    """The dimension a state key holds, or None for a clock's key."""
    if not key.startswith(WATCH_PREFIX):
        return None
    kind, _, value = key.removeprefix(WATCH_PREFIX).partition("|")
    return (kind, value) if kind and value else None


def _baseline(baseline: Baseline) -> dict[str, object]:
    return {
        "week": baseline.by_week_hour,
        "day": baseline.by_day_hour,
        "overall": baseline.overall,
        "windows": baseline.windows,
    }


def _load_baseline(data: dict[str, Any]) -> Baseline:
    return Baseline(
        by_week_hour={int(k): float(v) for k, v in data.get("week", {}).items()},
        by_day_hour={int(k): float(v) for k, v in data.get("day", {}).items()},
        overall=None if data.get("overall") is None else float(data["overall"]),
        windows=int(data.get("windows", 0)),
    )


def dump_watch(watch: Watch) -> bytes:
    data = {
        "v": WATCH_VERSION,
        "baseline": _baseline(watch.baseline),
        "negative_baseline": _baseline(watch.negative_baseline),
        "windows": [
            {"start": w.start, "count": w.count, "negative": w.negative, "issue_types": dict(w.issue_types)}
            for w in watch.windows.values()
        ],
        "closed_until": _num(watch.closed_until),
        "surging": watch.surging,
        "negative": watch.negative,
        "recent_p1": list(watch.recent_p1),
        "clustered": watch.clustered,
        "seen": watch.seen,
    }  # fmt: skip
    return json.dumps(data, separators=(",", ":")).encode()


def load_watch(value: bytes) -> Watch:
    data = json.loads(value)
    closed_until = data.get("closed_until")
    return Watch(
        baseline=_load_baseline(data.get("baseline", {})),
        negative_baseline=_load_baseline(data.get("negative_baseline", {})),
        windows={
            float(w["start"]): Window(float(w["start"]), int(w["count"]), int(w["negative"]),
                                      Counter({str(k): int(v) for k, v in w.get("issue_types", {}).items()}))
            for w in data.get("windows", [])
        },
        closed_until=-math.inf if closed_until is None else float(closed_until),
        surging=bool(data.get("surging", False)),
        negative=bool(data.get("negative", False)),
        recent_p1=deque(float(t) for t in data.get("recent_p1", [])),
        clustered=bool(data.get("clustered", False)),
        seen={int(k): int(v) for k, v in data.get("seen", {}).items()},
    )  # fmt: skip
