"""The ingest service's webhook receiver, as a separate process on the real broker: a
body signed the way each platform signs it arrives on social.raw; a wrong signature
gets 401 and publishes nothing; a replay is published once; handshakes sign no
delivery; hostile requests get a 4xx; an empty secret stops the service at start."""

import asyncio
import base64
import hashlib
import hmac
import json
import time

import httpx
import pytest
from aiokafka import TopicPartition

from tests.conftest import ServiceFactory
from tests.harness import REPO, KafkaHarness, ServiceProcess, json_lines, metric_value

pytestmark = pytest.mark.kafka

SECRET = "app-secret-for-tests"
TOKEN = "telegram-secret-token"
X_DM = (REPO / "services" / "ingest" / "tests" / "fixtures" / "x_dm.json").read_bytes().strip()
WEBHOOKS_ENV = {
    "TRIAGE_INGEST_WEBHOOKS__ENABLED": "true",
    "TRIAGE_INGEST_WEBHOOKS__X_CONSUMER_SECRET": SECRET,
    "TRIAGE_INGEST_WEBHOOKS__TIKTOK_CLIENT_SECRET": SECRET,
    "TRIAGE_INGEST_WEBHOOKS__LINKEDIN_CLIENT_SECRET": SECRET,
    "TRIAGE_INGEST_WEBHOOKS__TELEGRAM_SECRET_TOKEN": TOKEN,
}


def hex_hmac(data: bytes) -> str:
    return hmac.new(SECRET.encode(), data, hashlib.sha256).hexdigest()


def x_signature(data: bytes) -> str:
    return "sha256=" + base64.b64encode(hmac.new(SECRET.encode(), data, hashlib.sha256).digest()).decode()


async def records_on(kafka: KafkaHarness, topic: str) -> int:
    """How many records ``topic`` holds now: the receiver answers only once the broker
    acknowledged what it published, so this needs no waiting."""
    consumer = await kafka.consumer(topic)
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or set()]
    return sum((await consumer.end_offsets(partitions)).values())


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


async def test_a_replayed_delivery_is_answered_200_and_published_once(
    kafka: KafkaHarness, services: ServiceFactory
) -> None:
    ingest = await services.start("ingest", WEBHOOKS_ENV)
    now = int(time.time())
    tiktok = json.dumps({"event": "im_mark_read_msg", "user_openid": "act.1", "content": "{}"}).encode()
    deliveries = [
        ("x", X_DM, {"x-twitter-webhooks-signature": x_signature(X_DM)}),
        ("tiktok", tiktok, {"TikTok-Signature": f"t={now},s=" + hex_hmac(f"{now}.".encode() + tiktok)}),
    ]
    replies: list[tuple[str, httpx.Response]] = []
    async with httpx.AsyncClient(base_url=ingest.url, timeout=10) as client:
        for platform, body, headers in deliveries:
            for _ in range(3):
                replies.append((platform, await client.post(f"/webhooks/{platform}", content=body, headers=headers)))

    assert await records_on(kafka, kafka.topics.raw) == len(deliveries)
    assert all(reply.status_code == 200 for _, reply in replies), [(p, r.text) for p, r in replies]
    assert [(p, r.json().get("published")) for p, r in replies] == [
        ("x", True),
        ("x", False),
        ("x", False),
        ("tiktok", True),
        ("tiktok", False),
        ("tiktok", False),
    ]
    raw = json_lines(await kafka.consume(kafka.topics.raw, len(deliveries), 30))
    assert sorted(r["platform"] for r in raw) == ["tiktok", "x"]
    metrics = ingest.metrics_text()
    for platform, _, _ in deliveries:
        labels = {"platform": platform}
        assert metric_value(metrics, "triage_ingest_webhooks_total", {**labels, "outcome": "accepted"}) == 1
        assert metric_value(metrics, "triage_ingest_webhooks_total", {**labels, "outcome": "replayed"}) == 2


async def test_handshakes_sign_no_delivery_and_hostile_requests_get_4xx(
    kafka: KafkaHarness, services: ServiceFactory
) -> None:
    ingest = await services.start("ingest", WEBHOOKS_ENV)
    uuid = "9b4507b3-9040-4669-9ca3-6b94edb50553"
    async with httpx.AsyncClient(base_url=ingest.url, timeout=10) as client:
        # The X CRC of a DM body would be that DM's signature: it is refused, so is its forgery.
        crc = await client.get("/webhooks/x", params={"crc_token": X_DM.decode()})
        assert crc.status_code == 400
        assert x_signature(X_DM) not in crc.text
        forged = await client.post("/webhooks/x", content=X_DM, headers={"x-twitter-webhooks-signature": "sha256=AA=="})
        assert forged.status_code == 401
        challenge = await client.get("/webhooks/linkedin", params={"challengeCode": '{"notifications":[]}'})
        assert challenge.status_code == 400
        # The platforms' own handshakes still pass.
        assert (await client.get("/webhooks/x", params={"crc_token": uuid})).json() == {
            "response_token": x_signature(uuid.encode())
        }
        linkedin = await client.get("/webhooks/linkedin", params={"challengeCode": uuid})
        assert linkedin.json()["challengeResponse"] == hex_hmac(uuid.encode())

        long_timestamp = await client.post(
            "/webhooks/tiktok", content=b"{}", headers={"TikTok-Signature": "t=" + "9" * 5000 + ",s=00"}
        )
        assert long_timestamp.status_code == 401
        nested = b'{"update_id":1,"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        deep = await client.post(
            "/webhooks/telegram", content=nested, headers={"X-Telegram-Bot-Api-Secret-Token": TOKEN}
        )
        assert deep.status_code == 400
        assert "nested" in deep.json()["error"]
        assert (await client.get("/readyz")).status_code == 200

    assert await records_on(kafka, kafka.topics.raw) == 0
    metrics = ingest.metrics_text()
    assert metric_value(metrics, "triage_ingest_webhooks_total", {"platform": "x", "outcome": "bad_handshake"}) == 1
    assert metric_value(metrics, "triage_ingest_webhooks_total", {"platform": "telegram", "outcome": "bad_json"}) == 1


async def test_an_empty_secret_stops_the_service_at_start_naming_the_setting(
    kafka: KafkaHarness, services: ServiceFactory
) -> None:
    env = services.env("ingest", {**WEBHOOKS_ENV, "TRIAGE_INGEST_WEBHOOKS__TIKTOK_CLIENT_SECRET": ""})
    log = services.log_dir / "ingest-empty-secret.log"
    ingest = ServiceProcess("ingest", env, log_path=log).start()
    services.started.append(ingest)
    assert ingest.process is not None
    code = await asyncio.to_thread(ingest.process.wait, 30)
    assert code != 0
    assert "TRIAGE_INGEST_WEBHOOKS__TIKTOK_CLIENT_SECRET is empty" in log.read_text()
