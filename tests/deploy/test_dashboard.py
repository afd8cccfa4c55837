"""The Grafana dashboard: generated, lint-clean by Grafana's dashboard linter, and
provisioned the same way in compose and in Kubernetes. (That every panel's query returns
data from a real Prometheus is tests/e2e/test_dashboard.py.)"""

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.checks import deploy_check
from deploy.monitoring.dashboards import generate

REPO = deploy_check.DEPLOY.parent
CONFIGMAP = "triage-grafana-dashboard"
LINTER = REPO / ".run" / "bin" / "dashboard-linter"
# Every rule of grafana/dashboard-linter v0.2.0 but its two LogQL ones (see
# deploy/monitoring/dashboards/linter.patch).
RULES = {
    "template-datasource-rule", "template-job-rule", "template-instance-rule", "template-label-promql-rule",
    "template-on-time-change-reload-rule", "panel-datasource-rule", "panel-title-description-rule",
    "panel-units-rule", "panel-no-targets-rule", "target-promql-rule", "target-rate-interval-rule",
    "target-job-rule", "target-instance-rule", "target-counter-agg-rule", "uneditable-dashboard",
}  # fmt: skip


@pytest.fixture(scope="module")
def linter() -> Path:
    """The linter, built (or rebuilt after a change to its source) by its make target:
    without Go or the module proxy the test fails, it never skips."""
    built = subprocess.run(
        ["make", "-s", str(LINTER.relative_to(REPO))], cwd=REPO, capture_output=True, text=True, check=False
    )
    if built.returncode != 0 or not LINTER.exists():
        pytest.fail(f"`make dashboard-linter` failed:\n{built.stdout}{built.stderr}", pytrace=False)
    return LINTER


def lint(linter: Path, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(linter), "lint", "--strict", "--verbose", str(path)], capture_output=True, text=True, check=False
    )


def findings(output: str) -> list[str]:
    """The linter's lines that are not a rule's heading or its OK."""
    return [line for line in output.splitlines() if line.startswith("[") and "] OK" not in line]


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def test_the_dashboard_json_is_what_the_generator_writes() -> None:
    assert generate.main(["--check"]) == 0, "run `make dashboards`"


def test_grafanas_dashboard_linter_finds_nothing(linter: Path) -> None:
    linted = lint(linter, generate.DASHBOARD)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert findings(linted.stdout) == []
    listed = subprocess.run([str(linter), "rules"], capture_output=True, text=True, check=False)
    assert {line.split("`")[1] for line in listed.stdout.splitlines() if line.startswith("* `")} == RULES
    # No rule is switched off: a .lint beside the dashboard would be read by default.
    assert not (generate.DASHBOARD.parent / ".lint").exists()


def test_the_linter_reports_a_broken_dashboard(linter: Path, tmp_path: Path) -> None:
    dashboard = load(generate.DASHBOARD)
    dashboard["editable"] = True
    panel = next(p for p in dashboard["panels"] if p["type"] == "timeseries")
    panel["targets"][0]["expr"] = "sum(rate(triage_stage_records_in_total[5m]))"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(dashboard))
    linted = lint(linter, broken)
    assert linted.returncode != 0
    problems = "\n".join(findings(linted.stdout))
    for expected in ("job selector not found", "instance selector not found", "should use $__rate_interval"):
        assert expected in problems
    assert "is editable" in problems


def test_every_panel_uses_the_datasource_variable_and_scopes_its_queries() -> None:
    dashboard = load(generate.DASHBOARD)
    assert dashboard["uid"] == "social-triage"
    names = [v["name"] for v in dashboard["templating"]["list"]]
    assert names == ["datasource", "job", "instance", "window"]
    queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(queries) >= 20
    for query in queries:
        # every selector carries the matchers (the linter parses this; here the metric names)
        assert query.count("{") == query.count('job=~"$job", instance=~"$instance"'), query
    metrics = " ".join(queries)
    for metric in (
        "triage_sla_first_response_seconds_bucket", "triage_sla_dm_answered_within_share", "triage_sla_alerts_total",
        "triage_sla_unanswered_conversations", "triage_sla_oldest_unanswered_age_seconds", "triage_surge_active",
        "triage_surge_window_count", "triage_surge_expected", "triage_surge_alerts_total",
        "triage_stage_dead_letters_total", "triage_consumer_lag_records",
    ):  # fmt: skip
        assert metric in metrics, metric


def test_compose_provisions_the_dashboard_against_its_prometheus() -> None:
    compose_file = deploy_check.DEPLOY / "compose.yaml"
    compose = yaml.safe_load(compose_file.read_text())
    mounts = {
        target: (compose_file.parent / source).resolve()
        for source, target, *_ in (volume.split(":") for volume in compose["services"]["grafana"]["volumes"])
    }
    assert all(source.is_file() for source in mounts.values()), mounts
    [dashboard_in] = [target for target, source in mounts.items() if source == generate.DASHBOARD]
    [datasources] = [yaml.safe_load(s.read_text()) for t, s in mounts.items() if "/provisioning/datasources/" in t]
    [providers] = [yaml.safe_load(s.read_text()) for t, s in mounts.items() if "/provisioning/dashboards/" in t]
    [source] = datasources["datasources"]
    prometheus_port = compose["services"]["prometheus"]["ports"][0].split(":")[-1]
    assert (source["type"], source["url"], source["isDefault"]) == (
        "prometheus", f"http://prometheus:{prometheus_port}", True
    )  # fmt: skip
    [provider] = providers["providers"]
    assert Path(dashboard_in).parent == Path(provider["options"]["path"])


def test_every_overlay_ships_the_dashboard_configmap_for_grafanas_sidecar() -> None:
    dashboard = generate.DASHBOARD.read_text()
    for overlay in deploy_check.OVERLAYS:
        docs = deploy_check.render(deploy_check.K8S / "overlays" / overlay)
        [configmap] = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == CONFIGMAP]
        assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert configmap["data"] == {"social-triage.json": dashboard}


def test_a_stale_component_copy_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "social-triage.json"
    copy.write_text(generate.DASHBOARD.read_text().replace("Social triage", "Edited by hand"))
    monkeypatch.setattr(deploy_check, "DASHBOARD_COPY", copy)
    [problem] = deploy_check.check_dashboard_copy()
    assert "make dashboards" in problem
    copy.write_text(generate.DASHBOARD.read_text())
    assert deploy_check.check_dashboard_copy() == []
