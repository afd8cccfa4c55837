"""The pipeline benchmark at a tiny size, on a broker of its own.

Only what holds on any machine is asserted: every message reached social.routed exactly
once, the report carries every figure and every ratio is computed. The figures
themselves depend on the machine and are not checked here (``make bench-pipeline``).
"""

import json
import math
from pathlib import Path
from typing import Any

import pytest

from tests.bench.pipeline import RATES, Options, run, table
from tests.cluster import STAGES

pytestmark = pytest.mark.kafka


def numbers(value: Any) -> list[float]:
    """Every number in a JSON-like value."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in numbers(v)]
    return []


@pytest.mark.timeout(900)
async def test_a_tiny_run_delivers_exactly_once_and_reports_every_figure(tmp_path: Path) -> None:
    path = tmp_path / "bench-pipeline.json"
    report = await run(Options(messages=500, latency_seconds=3.0, report=path))

    drained = report["pipeline"]["delivery"]
    assert (drained["sent"], drained["lost"], drained["duplicated"]) == (500, 0, 0), drained
    assert drained["unique_message_ids"] == 500
    assert drained["dead_letters"] == 0
    for name, phase in report["latency"]["phases"].items():
        assert phase["complete"], name
        assert phase["delivery"]["exactly_once"], (name, phase["delivery"])
    assert set(report["latency"]["phases"]) == {"warm-up", *(f"{rate:g}" for rate in RATES)}
    assert report["figures"]["exactly_once"] is True

    figures = report["figures"]
    assert set(figures["stages"]) == set(STAGES)
    assert all(math.isfinite(n) for n in numbers(figures)), figures
    for key in ("plain_chain_rate", "pipeline_rate", "classifier_in_service_rate", "classifier_offline_rate"):
        assert figures[key] > 0, key
    for stage in STAGES:
        assert report["stages_alone"][stage]["records"] == 500, stage
        assert report["decisions_offline"][stage]["records"] == 500, stage
    assert len(report["targets"]) == 4 + len(STAGES)
    for row in report["targets"]:
        assert math.isfinite(row["value"]) and isinstance(row["met"], bool), row

    assert json.loads(path.read_text())["targets"] == report["targets"]
    rendered = table(report)
    assert all(row["name"] in rendered for row in report["targets"])
