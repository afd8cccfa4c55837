"""``triage-router bench``: the benchmark is a subcommand of the service's CLI."""

import pytest

from triage_router.bench import messages
from triage_router.cli import main
from triage_schemas.enums import IssueType


def test_bench_routes_every_issue_type_and_prints_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert {m.classification.issue_type for m in messages(len(IssueType))} == set(IssueType)
    assert main(["bench", "--count", "40"]) == 0
    out = capsys.readouterr().out
    assert "router: routed 40 messages in" in out
    assert "msg/s" in out
    assert "peak RSS" in out
