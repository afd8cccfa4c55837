"""The deployment checker catches what a platform team would be bitten by."""

from pathlib import Path
from typing import Any

import pytest

from deploy.checks import deploy_check


def deployment(**container_overrides: Any) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "router",
        "image": "social-triage/router",
        "securityContext": {
            "runAsNonRoot": True,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}},
    }
    container.update(container_overrides)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "triage-router"},
        "spec": {
            "selector": {"matchLabels": {"app": "r"}},
            "template": {
                "metadata": {"labels": {"app": "r"}},
                "spec": {"securityContext": {"runAsNonRoot": True}, "containers": [container]},
            },
        },
    }


@pytest.fixture(scope="module")
def crds() -> dict[str, dict[str, Any]]:
    return deploy_check.crd_schemas()


def test_a_sound_deployment_passes(crds: dict[str, dict[str, Any]]) -> None:
    doc = deployment()
    assert deploy_check.validate_manifest(doc, crds) == []
    assert deploy_check.check_pod_security(doc) == []


def test_kubernetes_schema_errors_name_the_field(crds: dict[str, dict[str, Any]]) -> None:
    doc = deployment(ports=[{"containerPort": "http"}])
    [error] = deploy_check.validate_manifest(doc, crds)
    assert "Deployment/triage-router" in error
    assert "containerPort" in error


def test_custom_resources_are_checked_against_their_crd(crds: dict[str, dict[str, Any]]) -> None:
    topic = {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaTopic",
        "metadata": {"name": "social-raw"},
        "spec": {"partitions": "twelve", "replicas": 3},
    }
    errors = deploy_check.validate_manifest(topic, crds)
    assert any("spec.partitions" in e and "integer" in e for e in errors), errors
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert "no schema for custom resource" in deploy_check.validate_manifest(unknown, crds)[0]


def test_pod_security_baseline(crds: dict[str, dict[str, Any]]) -> None:
    doc = deployment(securityContext={"runAsNonRoot": True, "readOnlyRootFilesystem": False}, livenessProbe=None)
    problems = deploy_check.check_pod_security(doc)
    assert any("readOnlyRootFilesystem must be true" in p for p in problems)
    assert any("allowPrivilegeEscalation must be false" in p for p in problems)
    assert any("capabilities must drop ALL" in p for p in problems)
    assert any("livenessProbe must GET /healthz" in p for p in problems)


def test_dockerfile_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deploy_check, "DEPLOY", tmp_path)
    single = tmp_path / "bad.Dockerfile"
    single.write_text('FROM python:3.11\nRUN apt-get install -y gcc\nCMD ["serve"]\n')
    problems = deploy_check.check_dockerfile(single)
    assert any("multi-stage" in p for p in problems)
    assert any("non-root USER" in p for p in problems)
    assert any("build tools" in p for p in problems)


def test_router_reads_the_policy_configmap_a_lead_edits() -> None:
    docs = deploy_check.render(deploy_check.K8S / "overlays" / "prod")
    [router] = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "triage-router"]
    [policy_map] = [
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("triage-routing-policy")
    ]
    pod = router["spec"]["template"]["spec"]
    [container] = pod["containers"]
    policy_file = next(e["value"] for e in container["env"] if e["name"] == "TRIAGE_ROUTER_POLICY_FILE")
    volume = next(v for v in pod["volumes"] if v.get("configMap", {}).get("name") == policy_map["metadata"]["name"])
    mount = next(m for m in container["volumeMounts"] if m["name"] == volume["name"])
    assert policy_file == f"{mount['mountPath']}/policy.yaml"
    assert "policy.yaml" in policy_map["data"]


def test_a_drifted_policy_copy_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "routing-policy.yaml"
    copy.write_text(deploy_check.ROUTER_DEFAULT_POLICY.read_text() + "\n# edited by hand\n")
    monkeypatch.setattr(deploy_check, "ROUTING_POLICY", copy)
    [problem] = deploy_check.check_policy_copy()
    assert "make deploy-rules" in problem
    copy.write_text(deploy_check.ROUTER_DEFAULT_POLICY.read_text())
    assert deploy_check.check_policy_copy() == []
