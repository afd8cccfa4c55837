"""One adapter per platform, each following that platform's documented payloads."""

from triage_ingest.adapters import (
    facebook,
    instagram,
    linkedin,
    messenger,
    telegram,
    tiktok,
    whatsapp,
    x,
    youtube,
)
from triage_ingest.adapters.base import Adapter
from triage_schemas.enums import Platform

ADAPTERS: dict[Platform, Adapter] = {
    Platform.MESSENGER: messenger.parse,
    Platform.INSTAGRAM: instagram.parse,
    Platform.FACEBOOK: facebook.parse,
    Platform.WHATSAPP: whatsapp.parse,
    Platform.X: x.parse,
    Platform.YOUTUBE: youtube.parse,
    Platform.TIKTOK: tiktok.parse,
    Platform.LINKEDIN: linkedin.parse,
    Platform.TELEGRAM: telegram.parse,
}
