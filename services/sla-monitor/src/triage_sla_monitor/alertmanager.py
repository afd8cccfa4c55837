"""Alerts that need a person to Alertmanager (API v2); resolved by re-posting with ``endsAt``.

Breaches, escalations and closing reply windows page (severity critical); resolution
breaches go as warnings; reminders (follow-up, closure note) and plain warnings stay
on ``social.sla-alerts`` only.

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
from triage_sla_monitor.clock import Alert, Subject
from triage_sla_monitor.inputs import SEVERITY, alert_tier

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
