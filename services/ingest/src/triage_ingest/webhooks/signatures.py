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

The X and LinkedIn handshakes sign whatever the caller sends with the same key and the
same algorithm as a delivery, so an unrestricted handshake is a signing oracle: sign a
forged body as a "token", then post the body with the answer as its signature. With
shared secrets the oracle even reaches across platforms (a LinkedIn challenge answer
for ``"<t>.<body>"`` is a TikTok signature). A delivery must be a JSON object, so a
handshake only signs tokens from an alphabet without ``{``, ``"``, ``.`` or whitespace,
and never longer than the platform's format: it can never sign a usable delivery.
"""

import base64
import hashlib
import hmac
import re

MAX_HEADER_CHARS = 512
"""Every signature header is under 100 characters; a longer one is refused unparsed."""

X_CRC_TOKEN = re.compile(r"[A-Za-z0-9_=+/-]{1,128}")
"""X documents crc_token only as a random string; it sends short base64/UUID-like tokens.
The alphabet is base64 (standard and URL-safe) plus ``-``; 128 characters is well above
any token X sends."""

LINKEDIN_CHALLENGE_CODE = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
"""LinkedIn documents challengeCode as a randomly generated type-4 UUID string."""

_TIKTOK_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # Unix seconds: 10 digits until the year 2286
_HEX_SHA256 = re.compile(r"[0-9A-Fa-f]{64}")


class BadSignature(Exception):
    """Why a delivery is refused; counted by reason, never echoing secrets."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadHandshake(Exception):
    """Why a handshake is refused without signing anything; never echoes the token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _hmac(secret: str, data: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), data, hashlib.sha256).digest()


def _require(header: str | None, name: str) -> str:
    if not header:
        raise BadSignature(f"missing {name} header")
    if len(header) > MAX_HEADER_CHARS:
        raise BadSignature(f"{name} header is longer than {MAX_HEADER_CHARS} characters")
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
    if X_CRC_TOKEN.fullmatch(crc_token) is None:
        raise BadHandshake(
            "crc_token must be 1 to 128 letters, digits, '-', '_', '+', '/' or '=' "
            "(X sends a short random token; anything else is not signed)"
        )
    return {"response_token": x_signature(secret, crc_token.encode("utf-8"))}


def tiktok_signature(secret: str, body: bytes, timestamp: int) -> str:
    return f"t={timestamp},s=" + _hmac(secret, f"{timestamp}.".encode() + body).hex()


def check_tiktok(secret: str, body: bytes, header: str | None, now: float, tolerance: float) -> None:
    parts = dict(part.split("=", 1) for part in _require(header, "TikTok-Signature").split(",") if "=" in part)
    stamp, given = parts.get("t", ""), parts.get("s", "")
    # Matched before int(): str.isdigit() accepts non-ASCII digits, and int() of thousands
    # of digits raises instead of refusing.
    if _TIKTOK_TIMESTAMP.fullmatch(stamp) is None or _HEX_SHA256.fullmatch(given) is None:
        raise BadSignature("TikTok-Signature must look like t=<unix seconds>,s=<64 hex digits>")
    timestamp = int(stamp)
    if abs(now - timestamp) > tolerance:
        raise BadSignature("TikTok-Signature timestamp is outside the accepted window (replayed or clock skew)")
    _equal(f"t={timestamp},s={given.lower()}", tiktok_signature(secret, body, timestamp))


def linkedin_signature(secret: str, body: bytes) -> str:
    return "hmacsha256=" + _hmac(secret, body).hex()


def check_linkedin(secret: str, body: bytes, header: str | None) -> None:
    given = _require(header, "X-LI-Signature").lower()
    expected = linkedin_signature(secret, body)
    _equal(given if given.startswith("hmacsha256=") else "hmacsha256=" + given, expected)


def linkedin_challenge_response(secret: str, challenge_code: str) -> dict[str, str]:
    if LINKEDIN_CHALLENGE_CODE.fullmatch(challenge_code) is None:
        raise BadHandshake(
            "challengeCode must be a UUID (LinkedIn sends a random type-4 UUID; anything else is not signed)"
        )
    return {
        "challengeCode": challenge_code,
        "challengeResponse": _hmac(secret, challenge_code.encode("utf-8")).hex(),
    }


def check_telegram(secret: str, header: str | None) -> None:
    _equal(_require(header, "X-Telegram-Bot-Api-Secret-Token"), secret)
