"""Webhook receiver settings (env ``TRIAGE_INGEST_WEBHOOKS__<FIELD>``)."""

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator

ENV_PREFIX = "TRIAGE_INGEST_WEBHOOKS__"
SECRETS = (
    "meta_app_secret",
    "meta_verify_token",
    "x_consumer_secret",
    "tiktok_client_secret",
    "linkedin_client_secret",
    "telegram_secret_token",
)


class WebhookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=False, description="serve POST /webhooks/{platform} on the HTTP port")
    meta_app_secret: SecretStr | None = Field(
        default=None,
        description="Meta app secret: checks X-Hub-Signature-256 (messenger, instagram, facebook, whatsapp)",
    )
    meta_verify_token: SecretStr | None = Field(
        default=None, description="token Meta's subscription handshake (hub.verify_token) must carry"
    )
    x_consumer_secret: SecretStr | None = Field(
        default=None, description="X app consumer secret: CRC challenge and x-twitter-webhooks-signature"
    )
    tiktok_client_secret: SecretStr | None = Field(default=None, description="TikTok app secret: TikTok-Signature")
    tiktok_tolerance_seconds: int = Field(
        default=300, ge=1, description="oldest TikTok-Signature timestamp accepted (replay protection)"
    )
    linkedin_client_secret: SecretStr | None = Field(
        default=None, description="LinkedIn app client secret: challengeCode and X-LI-Signature"
    )
    telegram_secret_token: SecretStr | None = Field(
        default=None, description="secret_token given to Telegram's setWebhook: X-Telegram-Bot-Api-Secret-Token"
    )
    max_body_bytes: int = Field(default=512 * 1024, ge=1024, description="larger webhook bodies get 413")
    replay_window_seconds: float = Field(
        default=86_400,
        gt=0,
        description="a signed delivery posted again within this window gets 200 and is not published again "
        "(replay protection); at least tiktok_tolerance_seconds",
    )
    replay_max_deliveries: int = Field(
        default=100_000,
        ge=1,
        description="most accepted deliveries remembered for replay protection (oldest forgotten first; "
        "about 200 bytes each)",
    )

    @field_validator(*SECRETS)
    @classmethod
    def _not_blank(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        # Anyone can compute an HMAC with the empty key: a blank secret would authenticate
        # every forged request, so it is refused instead of meaning "configured".
        if value is not None and not value.get_secret_value().strip():
            name = f"{ENV_PREFIX}{(info.field_name or '').upper()}"
            raise ValueError(
                f"{name} is empty or whitespace: anyone could sign requests with it; "
                f"set the platform's secret, or unset {name} to turn that webhook off"
            )
        return value

    @model_validator(mode="after")
    def _window_covers_tiktok(self) -> Self:
        # Within its tolerance a TikTok signature is still valid: a shorter window would
        # forget a delivery while a copy of it could still pass the signature check.
        if self.replay_window_seconds < self.tiktok_tolerance_seconds:
            raise ValueError(
                f"{ENV_PREFIX}REPLAY_WINDOW_SECONDS ({self.replay_window_seconds:g}) is shorter than "
                f"{ENV_PREFIX}TIKTOK_TOLERANCE_SECONDS ({self.tiktok_tolerance_seconds}): "
                "a replayed TikTok delivery would be accepted"
            )
        return self
