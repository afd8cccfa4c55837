"""``GET`` and ``POST /webhooks/{platform}``: handshakes, signature checks, and a verified
body published to ``social.raw`` as a raw envelope. Bodies are never logged.

Whatever a stranger sends (headers, bodies, handshake tokens) gets a 4xx saying why,
never a 500: only the broker failing to take a verified delivery is a server error, and
then the platform retries it.

A replayed delivery (the same body again within ``replay_window_seconds``) gets **200**
without being published again: the first copy is already on ``social.raw``, and any
non-2xx would make the platform retry it, or disable the webhook after repeated
failures. A copy arriving while the first is still being published gets 409, so that
the platform retries it once the first has succeeded or failed.
"""

import hmac
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from triage_ingest.webhooks import signatures
from triage_ingest.webhooks.replay import ReplayWindow, Seen, delivery_key
from triage_ingest.webhooks.settings import WebhookSettings
from triage_runtime import safejson
from triage_schemas.enums import Platform
from triage_schemas.records import RawEnvelope

WEBHOOKS = Counter(
    "triage_ingest_webhooks",
    "Webhook requests by platform and outcome (accepted, replayed, bad_signature, bad_handshake, bad_json, "
    "bad_request, too_large, not_configured, unknown_platform)",
    ["platform", "outcome"],
)
META = {Platform.MESSENGER, Platform.INSTAGRAM, Platform.FACEBOOK, Platform.WHATSAPP}
# Headers worth keeping with the envelope; signatures and secrets are never forwarded.
KEPT_HEADERS = ("content-type", "user-agent", "x-request-id")
# ASCII digits only, and few enough that int() cannot refuse them.
_CONTENT_LENGTH = re.compile(r"[0-9]{1,18}")

Publish = Callable[[RawEnvelope, str], Awaitable[None]]


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class WebhookReceiver:
    def __init__(self, settings: WebhookSettings, publish: Publish, now: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.publish = publish
        self.now = now
        self.replays = ReplayWindow(settings.replay_window_seconds, settings.replay_max_deliveries)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/webhooks/{platform}", self.handshake, methods=["GET"]),
            Route("/webhooks/{platform}", self.receive, methods=["POST"]),
        ]

    def _secret(self, platform: Platform) -> str | None:
        secret = {
            **dict.fromkeys(META, self.settings.meta_app_secret),
            Platform.X: self.settings.x_consumer_secret,
            Platform.TIKTOK: self.settings.tiktok_client_secret,
            Platform.LINKEDIN: self.settings.linkedin_client_secret,
            Platform.TELEGRAM: self.settings.telegram_secret_token,
        }.get(platform)
        return secret.get_secret_value() if secret is not None else None

    def _platform(self, request: Request) -> Platform | Response:
        name = request.path_params["platform"]
        if name == Platform.YOUTUBE.value:
            return _problem(404, "YouTube has no comment webhooks: a poller publishes commentThreads to social.raw")
        try:
            platform = Platform(name)
        except ValueError:
            WEBHOOKS.labels("unknown", "unknown_platform").inc()
            return _problem(404, f"unknown platform {name[:40]!r}")
        if self._secret(platform) is None:
            WEBHOOKS.labels(platform.value, "not_configured").inc()
            return _problem(503, f"the {platform.value} webhook is not configured (see TRIAGE_INGEST_WEBHOOKS__*)")
        return platform

    async def handshake(self, request: Request) -> Response:
        platform = self._platform(request)
        if isinstance(platform, Response):
            return platform
        secret = self._secret(platform) or ""
        query = request.query_params
        if platform in META:
            token = self.settings.meta_verify_token
            if query.get("hub.mode") != "subscribe" or token is None:
                return _problem(400, "expected hub.mode=subscribe with hub.verify_token and hub.challenge")
            given = query.get("hub.verify_token", "")
            if not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
                WEBHOOKS.labels(platform.value, "bad_signature").inc()
                return _problem(403, "hub.verify_token does not match")
            return PlainTextResponse(query.get("hub.challenge", ""))
        try:
            if platform is Platform.X and "crc_token" in query:
                return JSONResponse(signatures.x_crc_response(secret, query["crc_token"]))
            if platform is Platform.LINKEDIN and "challengeCode" in query:
                return JSONResponse(signatures.linkedin_challenge_response(secret, query["challengeCode"]))
        except signatures.BadHandshake as refused:
            WEBHOOKS.labels(platform.value, "bad_handshake").inc()
            return _problem(400, refused.reason)
        return _problem(400, f"no handshake for {platform.value} with these parameters")

    async def receive(self, request: Request) -> Response:
        platform = self._platform(request)
        if isinstance(platform, Response):
            return platform
        declared = request.headers.get("content-length", "")
        if _CONTENT_LENGTH.fullmatch(declared) is None and declared:
            WEBHOOKS.labels(platform.value, "bad_request").inc()
            return _problem(400, "Content-Length is not a number of bytes")
        if declared and int(declared) > self.settings.max_body_bytes:
            WEBHOOKS.labels(platform.value, "too_large").inc()
            return _problem(413, f"body over {self.settings.max_body_bytes:,} bytes")
        body = await self._body(request)
        if body is None:
            WEBHOOKS.labels(platform.value, "too_large").inc()
            return _problem(413, f"body over {self.settings.max_body_bytes:,} bytes")
        try:
            self._verify(platform, body, request)
        except signatures.BadSignature as refused:
            WEBHOOKS.labels(platform.value, "bad_signature").inc()
            return _problem(401, refused.reason)
        try:
            payload = safejson.loads(body, max_bytes=self.settings.max_body_bytes)
        except safejson.BadJson as refused:
            WEBHOOKS.labels(platform.value, "bad_json").inc()
            return _problem(400, f"body is {refused.reason}")
        if not isinstance(payload, dict):
            WEBHOOKS.labels(platform.value, "bad_json").inc()
            return _problem(400, "body is not a JSON object")
        key = delivery_key(platform, body)
        seen = self.replays.claim(key, self.now())
        if seen is not Seen.NEW:
            WEBHOOKS.labels(platform.value, "replayed").inc()
            if seen is Seen.IN_FLIGHT:
                return _problem(409, "the same delivery is being published right now: retry later")
            return JSONResponse(
                {
                    "accepted": True,
                    "published": False,
                    "reason": "this delivery was already accepted: not published again",
                }
            )
        published = False
        try:
            envelope = RawEnvelope(
                platform=platform,
                received_at=datetime.now(UTC),
                payload=payload,
                source="webhook",
                account_id=account_of(platform, payload),
                headers={name: request.headers[name] for name in KEPT_HEADERS if name in request.headers},
            )
            await self.publish(envelope, f"{platform.value}:{envelope.account_id or 'webhook'}")
            published = True
        finally:
            if published:
                self.replays.accept(key, self.now())
            else:
                self.replays.release(key)
        WEBHOOKS.labels(platform.value, "accepted").inc()
        return JSONResponse({"accepted": True, "published": True})

    async def _body(self, request: Request) -> bytes | None:
        """The body, or None as soon as it is over the limit (a chunked body declares no length)."""
        limit = self.settings.max_body_bytes
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def _verify(self, platform: Platform, body: bytes, request: Request) -> None:
        secret = self._secret(platform) or ""
        headers = request.headers
        if platform in META:
            signatures.check_meta(secret, body, headers.get("x-hub-signature-256"))
        elif platform is Platform.X:
            signatures.check_x(secret, body, headers.get("x-twitter-webhooks-signature"))
        elif platform is Platform.TIKTOK:
            signatures.check_tiktok(
                secret, body, headers.get("tiktok-signature"), self.now(), self.settings.tiktok_tolerance_seconds
            )
        elif platform is Platform.LINKEDIN:
            signatures.check_linkedin(secret, body, headers.get("x-li-signature"))
        else:
            signatures.check_telegram(secret, headers.get("x-telegram-bot-api-secret-token"))


def account_of(platform: Platform, payload: dict[str, Any]) -> str | None:
    """The brand account a delivery was made to, when the payload says."""
    value: Any = None
    if platform in META:
        entries = payload.get("entry")
        value = entries[0].get("id") if isinstance(entries, list) and entries and isinstance(entries[0], dict) else None
    elif platform is Platform.X:
        value = payload.get("for_user_id")
    elif platform is Platform.TIKTOK:
        value = payload.get("user_openid")
    elif platform is Platform.LINKEDIN:
        notes = payload.get("notifications")
        first = notes[0] if isinstance(notes, list) and notes else None
        value = first.get("organizationalEntity") if isinstance(first, dict) else None
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None
