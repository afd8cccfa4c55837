"""The webhook receiver: each platform's handshake and signature, computed the way the
platform does it; a verified body is published as a raw envelope, anything else is refused."""

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from triage_ingest.webhooks import signatures
from triage_ingest.webhooks.routes import WebhookReceiver
from triage_ingest.webhooks.settings import WebhookSettings
from triage_schemas.records import RawEnvelope

SECRET = "s3cr3t-app-secret"
NOW = 1_763_805_600.0
BODY = json.dumps({"object": "page", "entry": [{"id": "104729368112345", "messaging": []}]}).encode()


def settings() -> WebhookSettings:
    return WebhookSettings.model_validate(
        {
            "enabled": True,
            "meta_app_secret": SECRET,
            "meta_verify_token": "verify-me",
            "x_consumer_secret": SECRET,
            "tiktok_client_secret": SECRET,
            "linkedin_client_secret": SECRET,
            "telegram_secret_token": "tg-token",
            "max_body_bytes": 4096,
        }
    )


@pytest.fixture
def published() -> list[tuple[RawEnvelope, str]]:
    return []


@pytest.fixture
def client(published: list[tuple[RawEnvelope, str]]) -> TestClient:
    async def publish(envelope: RawEnvelope, key: str) -> None:
        published.append((envelope, key))

    receiver = WebhookReceiver(settings(), publish, now=lambda: NOW)
    return TestClient(Starlette(routes=receiver.routes()))


def hex_hmac(data: bytes) -> str:
    return hmac.new(SECRET.encode(), data, hashlib.sha256).hexdigest()


# Each header computed independently of the code under test, from the platform's docs.
SIGNED: dict[str, dict[str, str]] = {
    "messenger": {"X-Hub-Signature-256": "sha256=" + hex_hmac(BODY)},
    "whatsapp": {"X-Hub-Signature-256": "sha256=" + hex_hmac(BODY)},
    "x": {
        "x-twitter-webhooks-signature": "sha256="
        + base64.b64encode(hmac.new(SECRET.encode(), BODY, hashlib.sha256).digest()).decode()
    },
    "tiktok": {"TikTok-Signature": f"t={int(NOW)},s=" + hex_hmac(f"{int(NOW)}.".encode() + BODY)},
    "linkedin": {"X-LI-Signature": "hmacsha256=" + hex_hmac(BODY)},
    "telegram": {"X-Telegram-Bot-Api-Secret-Token": "tg-token"},
}


@pytest.mark.parametrize("platform", sorted(SIGNED))
def test_a_correctly_signed_delivery_is_published_as_a_raw_envelope(
    client: TestClient, published: list[tuple[RawEnvelope, str]], platform: str
) -> None:
    response = client.post(
        f"/webhooks/{platform}", content=BODY, headers={"content-type": "application/json", **SIGNED[platform]}
    )
    assert response.status_code == 200, response.text
    [(envelope, key)] = published
    assert envelope.platform == platform and envelope.source == "webhook"
    assert envelope.payload == json.loads(BODY)
    assert envelope.headers["content-type"] == "application/json"
    assert not {name.lower() for name in SIGNED[platform]} & set(envelope.headers)  # secrets stay out
    assert key.startswith(f"{platform}:")


@pytest.mark.parametrize("platform", sorted(SIGNED))
def test_a_wrong_or_missing_signature_gets_401_and_nothing_is_published(
    client: TestClient, published: list[tuple[RawEnvelope, str]], platform: str
) -> None:
    wrong = {name: value[:-1] + ("0" if value[-1] != "0" else "1") for name, value in SIGNED[platform].items()}
    assert client.post(f"/webhooks/{platform}", content=BODY, headers=wrong).status_code == 401
    if platform != "telegram":  # Telegram's token does not cover the body
        tampered = BODY.replace(b"104729368112345", b"999")
        assert client.post(f"/webhooks/{platform}", content=tampered, headers=SIGNED[platform]).status_code == 401
    missing = client.post(f"/webhooks/{platform}", content=BODY)
    assert missing.status_code == 401
    assert "missing" in missing.json()["error"]
    assert published == []


def test_a_replayed_tiktok_signature_is_refused() -> None:
    old = int(NOW) - 3600
    header = f"t={old},s=" + hex_hmac(f"{old}.".encode() + BODY)
    with pytest.raises(signatures.BadSignature, match="outside the accepted window"):
        signatures.check_tiktok(SECRET, BODY, header, NOW, 300)


def test_meta_subscription_handshake_echoes_the_challenge_only_with_the_right_token(client: TestClient) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"}
    ok = client.get("/webhooks/instagram", params=query)
    assert (ok.status_code, ok.text) == (200, "1158201444")
    assert client.get("/webhooks/instagram", params={**query, "hub.verify_token": "guess"}).status_code == 403


def test_x_crc_and_linkedin_challenge_are_answered(client: TestClient) -> None:
    crc = client.get("/webhooks/x", params={"crc_token": "abc123"}).json()
    expected = base64.b64encode(hmac.new(SECRET.encode(), b"abc123", hashlib.sha256).digest()).decode()
    assert crc == {"response_token": f"sha256={expected}"}
    challenge = client.get("/webhooks/linkedin", params={"challengeCode": "890e4665-4dfe"}).json()
    assert challenge == {"challengeCode": "890e4665-4dfe", "challengeResponse": hex_hmac(b"890e4665-4dfe")}


def test_refusals_say_why(client: TestClient) -> None:
    assert client.post("/webhooks/myspace", content=BODY).status_code == 404
    assert "poller" in client.post("/webhooks/youtube", content=BODY).json()["error"]
    big = b"{" + b" " * 5000 + b"}"
    assert client.post("/webhooks/telegram", content=big, headers=SIGNED["telegram"]).status_code == 413
    bad_json = client.post("/webhooks/telegram", content=b"{not json", headers=SIGNED["telegram"])
    assert bad_json.status_code == 400


def test_an_unconfigured_platform_is_unavailable(published: list[Any]) -> None:
    async def publish(envelope: RawEnvelope, key: str) -> None:
        published.append(envelope)

    bare = TestClient(Starlette(routes=WebhookReceiver(WebhookSettings(enabled=True), publish).routes()))
    response = bare.post("/webhooks/telegram", content=BODY)
    assert response.status_code == 503
    assert "TRIAGE_INGEST_WEBHOOKS__" in response.json()["error"]
