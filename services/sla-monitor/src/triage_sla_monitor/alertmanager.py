"""Alerts that need a person to Alertmanager (API v2); resolved by re-posting with ``endsAt``.

Breaches, escalations and closing reply windows page (severity critical); resolution
breaches go as warnings; reminders (follow-up, closure note) and plain warnings stay
on ``social.sla-alerts`` only. Surge alerts go too, with their own alert names and the
severity ``sla.surges.severity`` gives them.

Posting is best effort and off the alert path: the Kafka record is the alert of
record, Alertmanager is a notification channel, so a slow or absent Alertmanager never
stalls the clocks. Failures are logged and counted.
"""

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from prometheus_client import Counter

from triage_runtime.logs import log_event
from triage_schemas.enums import SurgeKind
from triage_schemas.policy import SurgePolicy
from triage_schemas.records import SurgeAlert
from triage_sla_monitor.clock import Alert, Subject
from triage_sla_monitor.inputs import SEVERITY, alert_tier

SURGE_ALERTNAMES = {
    SurgeKind.SURGE: "SocialInboxSurge",
    SurgeKind.NEGATIVE_SHARE: "SocialLaneTurningNegative",
    SurgeKind.P1_CLUSTER: "SocialP1Cluster",
}
POSTS = Counter("triage_sla_alertmanager_posts_total", "Posts to Alertmanager", ["outcome"])


def labels(conversation_id: str, clock_number: int, subject: Subject) -> dict[str, str]:
    # conversation and clock identify the alert to Alertmanager so it can be resolved;
    # they are never Prometheus metric labels
    return {
        "alertname": "SocialSlaBreach",
        "conversation_id": conversation_id,
        "clock": str(clock_number),
        "lane": subject.lane,
        "priority": subject.priority,
        "owner": subject.owner,
        "tier": str(subject.tier),
        "issue_type": subject.issue_type,
    }


class Alertmanager:
    def __init__(self, url: str, logger: logging.Logger) -> None:
        self.url = url.rstrip("/") + "/api/v2/alerts"
        self.logger = logger
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=10_000)
        self._client: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None

    def fire(self, alert: Alert) -> None:
        body = labels(alert.conversation_id, alert.clock_number, alert.subject)
        body["tier"] = str(alert_tier(alert))
        body["severity"] = SEVERITY[alert.kind].value
        body["kind"] = alert.kind.value
        start = datetime.fromtimestamp(alert.due_at, UTC)
        what = f"{alert.response.value} response" if alert.response is not None else "conversation"
        self._put(
            {
                "labels": body,
                "annotations": {
                    "summary": f"{alert.subject.lane} {alert.subject.priority} {what} {alert.kind.value}",
                    "target_seconds": str(alert.target_seconds),
                },
                "startsAt": start.isoformat(),
                # far enough ahead that Alertmanager keeps it firing until we resolve it
                "endsAt": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
            }
        )

    def resolve(self, conversation_id: str, clock_number: int, subject: Subject) -> None:
        now = datetime.now(UTC).isoformat()
        for kind in ("breach", "escalation"):
            body = labels(conversation_id, clock_number, subject)
            body["severity"] = "critical"
            body["kind"] = kind
            if kind == "escalation":
                body["tier"] = "2"
            self._put({"labels": body, "annotations": {}, "startsAt": now, "endsAt": now})

    def surge(self, alert: SurgeAlert, rules: SurgePolicy) -> None:
        """A surge fires until its ``surge_resolved``; a negative turn and a P1 cluster have
        no end of their own, so they fire for two windows and lapse unless raised again."""
        kind = SurgeKind.SURGE if alert.kind is SurgeKind.SURGE_RESOLVED else alert.kind
        labels = {
            "alertname": SURGE_ALERTNAMES[kind],
            "kind": kind.value,
            "severity": rules.severity_of(kind).value,
            "dimension": alert.dimension.value,
            "value": alert.value,
        }
        now = datetime.now(UTC)
        if alert.kind is SurgeKind.SURGE_RESOLVED:
            self._put({"labels": labels, "annotations": {}, "startsAt": now.isoformat(), "endsAt": now.isoformat()})
            return
        lasts = timedelta(days=30) if kind is SurgeKind.SURGE else timedelta(seconds=2 * alert.window_seconds)
        top = ", ".join(f"{t.issue_type.value} {t.count}" for t in alert.top_issue_types)
        self._put(
            {
                "labels": labels,
                "annotations": {
                    "summary": f"{kind.value} on {alert.dimension.value} {alert.value}: {alert.count} messages "
                    f"against {alert.expected:g} expected",
                    "top_issue_types": top,
                    "campaigns": ", ".join(alert.campaigns),
                },
                "startsAt": alert.at.isoformat(),
                "endsAt": (now + lasts).isoformat(),
            }
        )

    def _put(self, alert: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(alert)
        except asyncio.QueueFull:
            POSTS.labels("dropped").inc()
            log_event(self.logger, "alertmanager_queue_full", logging.WARNING)

    async def _run(self) -> None:
        assert self._client is not None
        while True:
            alert = await self.queue.get()
            try:
                response = await self._client.post(self.url, json=[alert])
                response.raise_for_status()
                POSTS.labels("ok").inc()
            except httpx.HTTPError as error:
                POSTS.labels("failed").inc()
                log_event(self.logger, "alertmanager_post_failed", logging.WARNING, error=type(error).__name__)

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=5.0)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.aclose()
