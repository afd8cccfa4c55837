"""``GET`` and ``POST /webhooks/{platform}``: handshakes, signature checks, and a verified
body published to ``social.raw`` as a raw envelope. Bodies are never logged."""

import hmac
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from triage_ingest.webhooks import signatures
from triage_ingest.webhooks.settings import WebhookSettings
from triage_schemas.enums import Platform
from triage_schemas.records import RawEnvelope

WEBHOOKS = Counter(
    "triage_ingest_webhooks",
    "Webhook deliveries by platform and outcome (accepted, bad_signature, bad_json, too_large, not_configured)",
    ["platform", "outcome"],
)
META = {Platform.MESSENGER, Platform.INSTAGRAM, Platform.FACEBOOK, Platform.WHATSAPP}
# Headers worth keeping with the envelope; signatures and secrets are never forwarded.
KEPT_HEADERS = ("content-type", "user-agent", "x-request-id")

Publish = Callable[[RawEnvelope, str], Awaitable[None]]


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class WebhookReceiver:
    def __init__(self, settings: WebhookSettings, publish: Publish, now: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.publish = publish
        self.now = now

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
        if platform is Platform.X and "crc_token" in query:
            return JSONResponse(signatures.x_crc_response(secret, query["crc_token"]))
        if platform is Platform.LINKEDIN and "challengeCode" in query:
            return JSONResponse(signatures.linkedin_challenge_response(secret, query["challengeCode"]))
        return _problem(400, f"no handshake for {platform.value} with these parameters")

    async def receive(self, request: Request) -> Response:
        platform = self._platform(request)
        if isinstance(platform, Response):
            return platform
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.settings.max_body_bytes:
            WEBHOOKS.labels(platform.value, "too_large").inc()
            return _problem(413, f"body over {self.settings.max_body_bytes:,} bytes")
        body = await request.body()
        if len(body) > self.settings.max_body_bytes:
            WEBHOOKS.labels(platform.value, "too_large").inc()
            return _problem(413, f"body over {self.settings.max_body_bytes:,} bytes")
        try:
            self._verify(platform, body, request)
        except signatures.BadSignature as refused:
            WEBHOOKS.labels(platform.value, "bad_signature").inc()
            return _problem(401, refused.reason)
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            WEBHOOKS.labels(platform.value, "bad_json").inc()
            return _problem(400, f"body is not JSON ({type(error).__name__})")
        if not isinstance(payload, dict):
            WEBHOOKS.labels(platform.value, "bad_json").inc()
            return _problem(400, "body is not a JSON object")
        envelope = RawEnvelope(
            platform=platform,
            received_at=datetime.now(UTC),
            payload=payload,
            source="webhook",
            account_id=account_of(platform, payload),
            headers={name: request.headers[name] for name in KEPT_HEADERS if name in request.headers},
        )
        await self.publish(envelope, f"{platform.value}:{envelope.account_id or 'webhook'}")
        WEBHOOKS.labels(platform.value, "accepted").inc()
        return JSONResponse({"accepted": True})

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
