"""facebook adapter (not written yet)."""

from typing import Any

from triage_ingest.adapters.base import AdapterContext, Extracted, PayloadError


def parse(payload: dict[str, Any], context: AdapterContext) -> list[Extracted]:
    raise PayloadError("the facebook adapter is not written yet")
