"""The webhook receiver: each platform's handshake and signature, computed the way the
platform does it; a verified body is published as a raw envelope, anything else is refused."""

import asyncio
import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.testclient import TestClient

from triage_ingest.config import IngestSettings
from triage_ingest.webhooks import signatures
from triage_ingest.webhooks.replay import ReplayWindow, Seen, delivery_key
from triage_ingest.webhooks.routes import WebhookReceiver
from triage_ingest.webhooks.settings import SECRETS, WebhookSettings
from triage_schemas.enums import Platform
from triage_schemas.records import RawEnvelope

SECRET = "s3cr3t-app-secret"
NOW = 1_763_805_600.0
BODY = json.dumps({"object": "page", "entry": [{"id": "104729368112345", "messaging": []}]}).encode()
FIXTURES = Path(__file__).parent / "fixtures"


def settings(**overrides: Any) -> WebhookSettings:
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
            **overrides,
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
    # A crash shows up as the 500 a platform would see, not as an exception in the test.
    return TestClient(Starlette(routes=receiver.routes()), raise_server_exceptions=False)


def counted(platform: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("triage_ingest_webhooks_total", {"platform": platform, "outcome": outcome}) or 0.0


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


# Tokens shaped like the ones X sends (its examples use UUIDs; live tokens are base64).
X_TOKENS = [
    "abc123",
    "challenge_string",
    "9b4507b3-9040-4669-9ca3-6b94edb50553",
    "OWI0NTA3YjMtOTA0MC00NjY5LTljYTMtNmI5NGVkYjUwNTUz",
]
LINKEDIN_CODE = "890e4665-4dfe-4ab1-b689-ed553bceeed3"  # LinkedIn's documented example


@pytest.mark.parametrize("token", X_TOKENS)
def test_x_crc_is_answered_for_tokens_the_way_x_sends_them(client: TestClient, token: str) -> None:
    crc = client.get("/webhooks/x", params={"crc_token": token})
    expected = base64.b64encode(hmac.new(SECRET.encode(), token.encode(), hashlib.sha256).digest()).decode()
    assert crc.json() == {"response_token": f"sha256={expected}"}


@pytest.mark.parametrize("code", [LINKEDIN_CODE, LINKEDIN_CODE.upper()])
def test_linkedin_challenge_is_answered_for_a_uuid(client: TestClient, code: str) -> None:
    challenge = client.get("/webhooks/linkedin", params={"challengeCode": code}).json()
    assert challenge == {"challengeCode": code, "challengeResponse": hex_hmac(code.encode())}


def test_the_x_crc_cannot_sign_a_forged_dm(client: TestClient) -> None:
    forged = json.dumps(json.loads((FIXTURES / "x_dm.json").read_bytes()), separators=(",", ":"))
    refused = client.get("/webhooks/x", params={"crc_token": forged})
    assert refused.status_code == 400
    assert "response_token" not in refused.json()
    # What the attacker would post with the handshake's answer, had there been one.
    signature = (
        "sha256=" + base64.b64encode(hmac.new(SECRET.encode(), forged.encode(), hashlib.sha256).digest()).decode()
    )
    assert signature not in refused.text


def test_the_linkedin_challenge_cannot_sign_a_forged_notification_or_a_tiktok_delivery(client: TestClient) -> None:
    notification = json.dumps({"type": "ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS", "notifications": []})
    tiktok_signed_text = f"{int(NOW)}.{BODY.decode()}"  # what TikTok signs, were the two secrets the same
    for code in (notification, tiktok_signed_text):
        refused = client.get("/webhooks/linkedin", params={"challengeCode": code})
        assert refused.status_code == 400
        assert hex_hmac(code.encode()) not in refused.text


@pytest.mark.parametrize(
    ("platform", "parameter", "token"),
    [
        ("x", "crc_token", '{"for_user_id":"1"}'),
        ("x", "crc_token", '["a"]'),
        ("x", "crc_token", '"quoted"'),
        ("x", "crc_token", "two words"),
        ("x", "crc_token", "line\n"),
        ("x", "crc_token", "1763805600.abc"),
        ("x", "crc_token", "ünïcode"),
        ("x", "crc_token", "a" * 129),
        ("x", "crc_token", ""),
        ("linkedin", "challengeCode", LINKEDIN_CODE[:13]),
        ("linkedin", "challengeCode", LINKEDIN_CODE + "0"),
        ("linkedin", "challengeCode", "{" + LINKEDIN_CODE + "}"),
        ("linkedin", "challengeCode", LINKEDIN_CODE + "\n"),
        ("linkedin", "challengeCode", "g" * 8 + LINKEDIN_CODE[8:]),
        ("linkedin", "challengeCode", ""),
    ],
)
def test_handshake_tokens_outside_the_platforms_format_are_refused_unsigned(
    client: TestClient, platform: str, parameter: str, token: str
) -> None:
    before = counted(platform, "bad_handshake")
    refused = client.get(f"/webhooks/{platform}", params={parameter: token})
    assert refused.status_code == 400
    assert set(refused.json()) == {"error"}
    assert counted(platform, "bad_handshake") == before + 1


def test_refusals_say_why(client: TestClient) -> None:
    assert client.post("/webhooks/myspace", content=BODY).status_code == 404
    assert "poller" in client.post("/webhooks/youtube", content=BODY).json()["error"]
    big = b"{" + b" " * 5000 + b"}"
    assert client.post("/webhooks/telegram", content=big, headers=SIGNED["telegram"]).status_code == 413
    bad_json = client.post("/webhooks/telegram", content=b"{not json", headers=SIGNED["telegram"])
    assert bad_json.status_code == 400


@pytest.mark.parametrize("platform", sorted(SIGNED))
def test_a_replayed_delivery_gets_200_and_is_not_published_again(
    client: TestClient, published: list[tuple[RawEnvelope, str]], platform: str
) -> None:
    before = counted(platform, "replayed")
    first = client.post(f"/webhooks/{platform}", content=BODY, headers=SIGNED[platform])
    replayed = client.post(f"/webhooks/{platform}", content=BODY, headers=SIGNED[platform])
    assert first.json() == {"accepted": True, "published": True}
    assert replayed.status_code == 200
    assert replayed.json()["published"] is False
    assert len(published) == 1
    assert counted(platform, "replayed") == before + 1


def test_the_replay_window_is_bounded_in_time(published: list[Any]) -> None:
    clock = [NOW]

    async def publish(envelope: RawEnvelope, key: str) -> None:
        published.append(envelope)

    receiver = WebhookReceiver(settings(replay_window_seconds=600), publish, now=lambda: clock[0])
    client = TestClient(Starlette(routes=receiver.routes()))
    headers = SIGNED["messenger"]
    client.post("/webhooks/messenger", content=BODY, headers=headers)
    clock[0] += 599
    assert client.post("/webhooks/messenger", content=BODY, headers=headers).json()["published"] is False
    clock[0] += 2
    assert client.post("/webhooks/messenger", content=BODY, headers=headers).json()["published"] is True
    assert len(published) == 2
    assert len(receiver.replays) == 1


def test_the_replay_window_forgets_the_oldest_beyond_its_size() -> None:
    window = ReplayWindow(window_seconds=3600, max_entries=2)
    keys = [delivery_key(Platform.X, f'{{"n":{n}}}'.encode()) for n in range(3)]
    for n, key in enumerate(keys):
        assert window.claim(key, NOW + n) is Seen.NEW
        window.accept(key, NOW + n)
    assert len(window) == 2
    assert window.claim(keys[2], NOW + 3) is Seen.ACCEPTED
    assert window.claim(keys[0], NOW + 3) is Seen.NEW  # forgotten: its memory went to newer ones


def test_the_same_body_on_another_platform_is_not_a_replay() -> None:
    assert delivery_key(Platform.X, BODY) != delivery_key(Platform.LINKEDIN, BODY)


async def test_a_copy_arriving_while_the_first_is_published_gets_409_and_a_failed_publish_can_be_retried() -> None:
    published: list[RawEnvelope] = []
    entered, release = asyncio.Event(), asyncio.Event()
    failures = [RuntimeError("broker down")]

    async def publish(envelope: RawEnvelope, key: str) -> None:
        if failures:
            raise failures.pop()
        entered.set()
        await release.wait()
        published.append(envelope)

    receiver = WebhookReceiver(settings(), publish, now=lambda: NOW)
    transport = httpx.ASGITransport(app=Starlette(routes=receiver.routes()), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:

        async def post() -> httpx.Response:
            return await client.post("/webhooks/x", content=BODY, headers=SIGNED["x"])

        assert (await post()).status_code == 500  # the broker failed: the platform retries
        retry = asyncio.create_task(post())
        await entered.wait()  # the retry is now waiting on the broker
        assert (await post()).status_code == 409
        release.set()
        assert (await retry).json() == {"accepted": True, "published": True}
        assert (await post()).json()["published"] is False
    assert len(published) == 1


@pytest.mark.parametrize("field", SECRETS)
@pytest.mark.parametrize("value", ["", "   ", "\t\n"])
def test_an_empty_secret_is_a_configuration_error_naming_the_variable(field: str, value: str) -> None:
    with pytest.raises(ValidationError, match=f"TRIAGE_INGEST_WEBHOOKS__{field.upper()} is empty"):
        settings(**{field: value})


def test_an_empty_secret_in_the_environment_is_refused_by_the_service_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_INGEST_WEBHOOKS__ENABLED", "true")
    monkeypatch.setenv("TRIAGE_INGEST_WEBHOOKS__X_CONSUMER_SECRET", "")
    with pytest.raises(ValidationError, match="TRIAGE_INGEST_WEBHOOKS__X_CONSUMER_SECRET is empty"):
        IngestSettings()


def test_a_replay_window_shorter_than_tiktoks_tolerance_is_refused() -> None:
    with pytest.raises(ValidationError, match="REPLAY_WINDOW_SECONDS"):
        settings(replay_window_seconds=60, tiktok_tolerance_seconds=300)


TIKTOK_HEX = hex_hmac(f"{int(NOW)}.".encode() + BODY)


@pytest.mark.parametrize(
    "header",
    [
        "t=" + "9" * 5000 + ",s=00",
        "t=" + "9" * 13 + ",s=" + TIKTOK_HEX,
        "t=\u0661\u0667\u0666\u0663,s=" + TIKTOK_HEX,  # Arabic-Indic digits pass str.isdigit()
        f"t=-{int(NOW)},s=" + TIKTOK_HEX,
        f"t={NOW},s=" + TIKTOK_HEX,
        f"t={int(NOW)},s=" + TIKTOK_HEX[:-1] + "g",
        f"t={int(NOW)},s=" + TIKTOK_HEX + "00",
        f"s={TIKTOK_HEX}",
        f"t={int(NOW)}",
        "t=,s=",
        ",,,,",
        f"t={int(NOW)},s={TIKTOK_HEX}," + "x=1," * 200,
    ],
)
def test_a_malformed_tiktok_signature_gets_401(client: TestClient, published: list[Any], header: str) -> None:
    response = client.post("/webhooks/tiktok", content=BODY, headers={"TikTok-Signature": header.encode("utf-8")})
    assert response.status_code == 401, response.text
    assert published == []


def deep(levels: int) -> bytes:
    return b'{"a":' + b"[" * (levels - 1) + b"]" * (levels - 1) + b"}"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (deep(100_000), "nested"),
        (deep(65), "nested"),
        (b'{"n": NaN}', "NaN"),
        (b'{"n": ' + b"9" * 5000 + b"}", "JSON"),
        (b'{"text": "\\ud800"}', "surrogate"),
        (b'{"text": "\xff"}', "UTF-8"),
        (b"[1, 2]", "object"),
        (b"", "JSON"),
    ],
)
def test_a_malformed_body_gets_400_with_the_reason(published: list[Any], body: bytes, reason: str) -> None:
    async def publish(envelope: RawEnvelope, key: str) -> None:
        published.append(envelope)

    receiver = WebhookReceiver(settings(max_body_bytes=512 * 1024), publish, now=lambda: NOW)
    client = TestClient(Starlette(routes=receiver.routes()), raise_server_exceptions=False)
    for platform, headers in (
        ("telegram", SIGNED["telegram"]),
        ("whatsapp", {"X-Hub-Signature-256": "sha256=" + hex_hmac(body)}),
    ):
        response = client.post(f"/webhooks/{platform}", content=body, headers=headers)
        assert response.status_code == 400, (platform, response.status_code)
        assert reason in response.json()["error"]
    assert published == []


@pytest.mark.parametrize("declared", [b"\xb2", b"9" * 5000, b"-1", b"1e3"])
def test_a_malformed_content_length_gets_400(client: TestClient, published: list[Any], declared: bytes) -> None:
    response = client.post(
        "/webhooks/telegram", content=BODY, headers={**SIGNED["telegram"], "content-length": declared}
    )
    assert response.status_code == 400
    assert published == []


def test_a_chunked_body_over_the_limit_gets_413(client: TestClient, published: list[Any]) -> None:
    def chunks() -> Any:
        yield b'{"a": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    response = client.post("/webhooks/telegram", content=chunks(), headers=SIGNED["telegram"])
    assert response.status_code == 413
    assert published == []


def test_an_unconfigured_platform_is_unavailable(published: list[Any]) -> None:
    async def publish(envelope: RawEnvelope, key: str) -> None:
        published.append(envelope)

    bare = TestClient(Starlette(routes=WebhookReceiver(WebhookSettings(enabled=True), publish).routes()))
    response = bare.post("/webhooks/telegram", content=BODY)
    assert response.status_code == 503
    assert "TRIAGE_INGEST_WEBHOOKS__" in response.json()["error"]
