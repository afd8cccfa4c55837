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
