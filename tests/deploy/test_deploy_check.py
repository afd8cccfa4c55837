"""The deployment checker catches what a platform team would be bitten by."""

from pathlib import Path
from typing import Any

import pytest
import yaml

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


def test_copy_sources_must_be_in_the_build_context(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "runtime").mkdir()
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM python:3.11-slim AS build\n"
        "COPY schemas/ schemas/\n"
        "# a comment\n"
        "COPY --chown=10001:10001 runtime/ \\\n"
        "     services/gone/ /src/\n"
        "COPY ../outside /x\n"
        "FROM python:3.11-slim\n"
        "COPY --from=build /wheels /wheels\n"
    )
    problems = deploy_check.check_copy_sources(dockerfile, tmp_path)
    assert len(problems) == 2, problems
    assert any("services/gone/" in p and "not in the build context" in p for p in problems)
    assert any("../outside" in p and "outside the build context" in p for p in problems)


def test_each_service_image_is_built_from_its_own_folder() -> None:
    repo = deploy_check.DEPLOY.parent
    for service in deploy_check.SERVICES:
        dockerfile = repo / "services" / service / "Dockerfile"
        assert deploy_check.check_dockerfile(dockerfile) == []
        assert deploy_check.check_copy_sources(dockerfile, repo) == []
    compose = yaml.safe_load((deploy_check.DEPLOY / "compose.yaml").read_text())
    built = {s["build"]["dockerfile"] for s in compose["services"].values() if "build" in s}
    assert built == {f"services/{service}/Dockerfile" for service in deploy_check.SERVICES}


def test_the_base_builds_with_any_combination_of_components() -> None:
    found = deploy_check.components()
    assert found, "no components under deploy/k8s/components/"
    for component in found:
        assert yaml.safe_load((component / "kustomization.yaml").read_text())["kind"] == "Component"
    combinations = deploy_check.component_sets()
    assert len(combinations) == 2 ** len(found)

    def named(docs: list[dict[str, Any]]) -> set[tuple[str, str]]:
        # A component may change a generated ConfigMap, and so its hashed name.
        return {(d["kind"], d["metadata"]["name"]) for d in docs if d["kind"] != "ConfigMap"}

    base = named(deploy_check.render_with(()))
    for combination in combinations:
        assert base <= named(deploy_check.render_with(combination)), combination


def test_prod_services_authenticate_to_kafka_and_keda_as_their_own_user() -> None:
    docs = deploy_check.render(deploy_check.K8S / "overlays" / "prod")
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    assert len(by_kind["Deployment"]) == len(deploy_check.SERVICES)
    for name, deployment in by_kind["Deployment"].items():
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        assert env["TRIAGE_KAFKA_SASL_USERNAME"] == {"name": "TRIAGE_KAFKA_SASL_USERNAME", "value": name}
        assert env["TRIAGE_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == name
        assert name in by_kind["KafkaUser"]
        [trigger] = by_kind["ScaledObject"][name]["spec"]["triggers"]
        assert trigger["metadata"]["sasl"] == "scram_sha512"
        auth = by_kind["TriggerAuthentication"][trigger["authenticationRef"]["name"]]["spec"]
        assert auth["env"][0]["containerName"] == container["name"]
        password = next(ref for ref in auth["secretTargetRef"] if ref["parameter"] == "password")
        assert password["name"] == name
