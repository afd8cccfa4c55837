"""The ingest service's webhook receiver, as a separate process on the real broker: a
body signed the way each platform signs it arrives on social.raw; a wrong signature
gets 401 and publishes nothing."""

import base64
import hashlib
import hmac
import json
import time

import httpx
import pytest

from tests.conftest import ServiceFactory
from tests.harness import KafkaHarness, json_lines, metric_value

pytestmark = pytest.mark.kafka

SECRET = "app-secret-for-tests"
TOKEN = "telegram-secret-token"


def hex_hmac(data: bytes) -> str:
    return hmac.new(SECRET.encode(), data, hashlib.sha256).hexdigest()


async def test_signed_deliveries_reach_social_raw_and_forged_ones_get_401(
    kafka: KafkaHarness, services: ServiceFactory
) -> None:
    ingest = await services.start(
        "ingest",
        {
            "TRIAGE_INGEST_WEBHOOKS__ENABLED": "true",
            "TRIAGE_INGEST_WEBHOOKS__META_APP_SECRET": SECRET,
            "TRIAGE_INGEST_WEBHOOKS__META_VERIFY_TOKEN": "verify-me",
            "TRIAGE_INGEST_WEBHOOKS__X_CONSUMER_SECRET": SECRET,
            "TRIAGE_INGEST_WEBHOOKS__TIKTOK_CLIENT_SECRET": SECRET,
            "TRIAGE_INGEST_WEBHOOKS__LINKEDIN_CLIENT_SECRET": SECRET,
            "TRIAGE_INGEST_WEBHOOKS__TELEGRAM_SECRET_TOKEN": TOKEN,
        },
    )
    meta = json.dumps({"object": "page", "entry": [{"id": "104729368112345", "time": 1, "messaging": []}]}).encode()
    x = json.dumps({"for_user_id": "2244994945", "favorite_events": [{}]}).encode()
    tiktok = json.dumps({"event": "im_mark_read_msg", "user_openid": "act.1", "content": "{}"}).encode()
    linkedin = json.dumps({"type": "ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS", "notifications": []}).encode()
    telegram = json.dumps({"update_id": 1, "poll": {}}).encode()
    now = int(time.time())
    deliveries = [
        ("messenger", meta, {"X-Hub-Signature-256": "sha256=" + hex_hmac(meta)}),
        ("x", x, {"x-twitter-webhooks-signature": "sha256=" + base64.b64encode(bytes.fromhex(hex_hmac(x))).decode()}),
        ("tiktok", tiktok, {"TikTok-Signature": f"t={now},s=" + hex_hmac(f"{now}.".encode() + tiktok)}),
        ("linkedin", linkedin, {"X-LI-Signature": "hmacsha256=" + hex_hmac(linkedin)}),
        ("telegram", telegram, {"X-Telegram-Bot-Api-Secret-Token": TOKEN}),
    ]
    async with httpx.AsyncClient(base_url=ingest.url, timeout=10) as client:
        handshake = await client.get(
            "/webhooks/facebook",
            params={"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "4242"},
        )
        assert (handshake.status_code, handshake.text) == (200, "4242")
        forged = await client.post("/webhooks/messenger", content=meta, headers={"X-Hub-Signature-256": "sha256=00"})
        assert forged.status_code == 401
        for platform, body, headers in deliveries:
            response = await client.post(f"/webhooks/{platform}", content=body, headers=headers)
            assert response.status_code == 200, (platform, response.text)

    raw = {r["platform"]: r for r in json_lines(await kafka.consume(kafka.topics.raw, len(deliveries), 30))}
    assert sorted(raw) == sorted(p for p, _, _ in deliveries)
    for platform, body, _ in deliveries:
        assert raw[platform]["source"] == "webhook"
        assert raw[platform]["payload"] == json.loads(body)
    assert raw["messenger"]["account_id"] == "104729368112345"
    # The service consumes what it published: the skipped events show up in its counters.
    assert len(await kafka.drain(await kafka.consumer(kafka.topics.raw))) == len(deliveries)
    metrics = ingest.metrics_text()
    assert (
        metric_value(metrics, "triage_ingest_webhooks_total", {"platform": "messenger", "outcome": "bad_signature"})
        == 1
    )
    assert metric_value(metrics, "triage_ingest_webhooks_total", {"platform": "telegram", "outcome": "accepted"}) == 1
