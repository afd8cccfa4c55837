"""Webhook receiver settings (env ``TRIAGE_INGEST_WEBHOOKS__<FIELD>``)."""

from pydantic import BaseModel, ConfigDict, Field, SecretStr


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
