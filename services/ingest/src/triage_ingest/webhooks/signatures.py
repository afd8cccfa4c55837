"""Each platform's webhook handshake and signature, computed over the raw body bytes.
Pure functions; comparisons are constant-time.

- Meta: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, body)>``; the
  subscription GET echoes ``hub.challenge`` when ``hub.verify_token`` matches
  (developers.facebook.com/docs/graph-api/webhooks/getting-started).
- X: ``x-twitter-webhooks-signature: sha256=<base64 HMAC-SHA256(consumer secret, body)>``;
  the CRC GET answers ``{"response_token": "sha256=<base64 HMAC(consumer secret, crc_token)>"}``
  (docs.x.com/x-api/enterprise-gnip-2.0/fundamentals/account-activity, securing webhooks).
- TikTok: ``TikTok-Signature: t=<unix seconds>,s=<hex HMAC-SHA256(client secret, "<t>.<body>")>``
  (developers.tiktok.com/doc/webhooks-verification).
- LinkedIn: ``X-LI-Signature: hmacsha256=<hex HMAC-SHA256(client secret, body)>``; the
  validation GET answers ``challengeResponse = hex HMAC-SHA256(client secret, challengeCode)``
  (learn.microsoft.com/linkedin/shared/api-guide/webhook-validation).
- Telegram: ``X-Telegram-Bot-Api-Secret-Token`` equals the ``secret_token`` given to
  setWebhook (core.telegram.org/bots/api#setwebhook).
"""

import base64
import hashlib
import hmac


class BadSignature(Exception):
    """Why a delivery is refused; counted by reason, never echoing secrets."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _hmac(secret: str, data: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), data, hashlib.sha256).digest()


def _require(header: str | None, name: str) -> str:
    if not header:
        raise BadSignature(f"missing {name} header")
    return header.strip()


def _equal(given: str, expected: str) -> None:
    if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        raise BadSignature("signature does not match")


def meta_signature(secret: str, body: bytes) -> str:
    return "sha256=" + _hmac(secret, body).hex()


def check_meta(secret: str, body: bytes, header: str | None) -> None:
    _equal(_require(header, "X-Hub-Signature-256").lower(), meta_signature(secret, body))


def x_signature(secret: str, body: bytes) -> str:
    return "sha256=" + base64.b64encode(_hmac(secret, body)).decode("ascii")


def check_x(secret: str, body: bytes, header: str | None) -> None:
    _equal(_require(header, "x-twitter-webhooks-signature"), x_signature(secret, body))


def x_crc_response(secret: str, crc_token: str) -> dict[str, str]:
    return {"response_token": x_signature(secret, crc_token.encode("utf-8"))}


def tiktok_signature(secret: str, body: bytes, timestamp: int) -> str:
    return f"t={timestamp},s=" + _hmac(secret, f"{timestamp}.".encode() + body).hex()


def check_tiktok(secret: str, body: bytes, header: str | None, now: float, tolerance: float) -> None:
    parts = dict(part.split("=", 1) for part in _require(header, "TikTok-Signature").split(",") if "=" in part)
    if "t" not in parts or "s" not in parts or not parts["t"].isdigit():
        raise BadSignature("TikTok-Signature must look like t=<timestamp>,s=<signature>")
    timestamp = int(parts["t"])
    if abs(now - timestamp) > tolerance:
        raise BadSignature("TikTok-Signature timestamp is outside the accepted window (replayed or clock skew)")
    _equal(f"t={timestamp},s={parts['s'].lower()}", tiktok_signature(secret, body, timestamp))


def linkedin_signature(secret: str, body: bytes) -> str:
    return "hmacsha256=" + _hmac(secret, body).hex()


def check_linkedin(secret: str, body: bytes, header: str | None) -> None:
    given = _require(header, "X-LI-Signature").lower()
    expected = linkedin_signature(secret, body)
    _equal(given if given.startswith("hmacsha256=") else "hmacsha256=" + given, expected)


def linkedin_challenge_response(secret: str, challenge_code: str) -> dict[str, str]:
    return {
        "challengeCode": challenge_code,
        "challengeResponse": _hmac(secret, challenge_code.encode("utf-8")).hex(),
    }


def check_telegram(secret: str, header: str | None) -> None:
    _equal(_require(header, "X-Telegram-Bot-Api-Secret-Token"), secret)
