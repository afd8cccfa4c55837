"""A clock as a compacted-topic value (JSON), and back. ``None`` is the tombstone."""

import json
import math
from dataclasses import asdict

from triage_sla_monitor.clock import Clock, Subject

STATE_VERSION = 2
"""2 added the next-response flag, the opening time and the reply-window deadline; a
version-1 value loads with those absent (a first-response clock without a window)."""


def _num(value: float) -> float | None:
    return value if math.isfinite(value) else None


def dump(clock: Clock) -> bytes:
    data = {
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
    )
