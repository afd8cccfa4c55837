"""``make deploy-check``: offline checks of everything under deploy/, with real tools.

* every Kustomize overlay builds with ``kubectl kustomize``, and so does the base with
  each combination of the components in deploy/k8s/components/ (none, each alone, ...,
  all of them): an overlay may compose any of them;
* every rendered manifest validates against the Kubernetes schemas
  (kubernetes-validate, strict) or, for custom resources, the CRD's own
  openAPIV3Schema kept in deploy/k8s/crd-schemas/ (Strimzi, KEDA, Prometheus Operator);
* every Deployment meets the pod-security baseline the platform expects (non-root,
  read-only root filesystem, no privilege escalation, all capabilities dropped,
  resources, probes on the health endpoints);
* the alert rules pass ``promtool check rules`` and ``promtool test rules``, and the
  PrometheusRule in the base is generated from deploy/monitoring/triage-alerts.rules.yaml;
* the routing policy shipped in the ConfigMap passes ``triage-router check-policy``;
* the grafana-dashboard component carries the same dashboard as
  deploy/monitoring/dashboards/social-triage.json (``make dashboards`` writes both);
* the compose file parses (``docker-compose config``) and builds from Dockerfiles that
  exist; each service's image (services/<service>/Dockerfile, built with the repository
  root as context) is multi-stage, runs as a non-root user and copies only paths that
  exist in that context.
"""

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

DEPLOY = Path(__file__).resolve().parent.parent
K8S = DEPLOY / "k8s"
OVERLAYS = ("dev", "prod")
COMPONENTS = K8S / "components"
KUBERNETES_VERSION = "1.33.0"
SERVICES = ("ingest", "classifier", "router", "sla-monitor")
RULES_SOURCE = DEPLOY / "monitoring" / "triage-alerts.rules.yaml"
RULE_TESTS = DEPLOY / "monitoring" / "tests"
PROMETHEUS_RULE = K8S / "base" / "prometheus-rule.yaml"
# Kustomize reads only files under the kustomization, so the base carries a copy of the
# router's shipped policy; the check keeps the two from drifting apart.
ROUTING_POLICY = K8S / "base" / "routing-policy.yaml"
ROUTER_DEFAULT_POLICY = DEPLOY.parent / "services" / "router" / "src" / "triage_router" / "policies" / "default.yaml"
DASHBOARD = DEPLOY / "monitoring" / "dashboards" / "social-triage.json"
DASHBOARD_COPY = COMPONENTS / "grafana-dashboard" / "social-triage.json"


def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)


def render(overlay: Path) -> list[dict[str, Any]]:
    built = run(["kubectl", "kustomize", str(overlay)])
    if built.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {overlay} failed: {built.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(built.stdout) if doc]


def components() -> list[Path]:
    """Every Kustomize component under deploy/k8s/components/."""
    return sorted(path.parent for path in COMPONENTS.glob("*/kustomization.yaml"))


def component_sets() -> list[tuple[Path, ...]]:
    """Every combination of the components, from none to all of them."""
    found = components()
    return [combo for size in range(len(found) + 1) for combo in itertools.combinations(found, size)]


def render_with(composed: Sequence[Path]) -> list[dict[str, Any]]:
    """The base with ``composed`` components, built from a throwaway kustomization."""
    with tempfile.TemporaryDirectory(prefix="deploy-check-") as directory:
        # Kustomize refuses absolute paths to a base or a component; relative ones may
        # leave the kustomization's directory.
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [os.path.relpath(K8S / "base", directory)],
            "components": [os.path.relpath(component, directory) for component in composed],
        }
        (Path(directory) / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
        return render(Path(directory))


def crd_schemas() -> dict[str, dict[str, Any]]:
    index = json.loads((K8S / "crd-schemas" / "index.json").read_text())
    return {key: json.loads((K8S / "crd-schemas" / entry["file"]).read_text()) for key, entry in index.items()}


def describe(doc: dict[str, Any]) -> str:
    return f"{doc.get('kind', '?')}/{doc.get('metadata', {}).get('name', '?')}"


def validate_manifest(doc: dict[str, Any], crds: dict[str, dict[str, Any]]) -> list[str]:
    """Schema errors of one manifest, as readable lines."""
    api_version, kind = doc.get("apiVersion", ""), doc.get("kind", "")
    key = f"{api_version}/{kind}"
    if key in crds:
        validator = jsonschema.Draft7Validator(crds[key])
        errors = [
            f"{describe(doc)}: {'.'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
            for error in validator.iter_errors(doc)
        ]
        if not doc.get("metadata", {}).get("name"):
            errors.append(f"{describe(doc)}: metadata.name is required")
        return errors
    if "." in api_version.split("/")[0] and not api_version.split("/")[0].endswith(".k8s.io"):
        return [f"{describe(doc)}: no schema for custom resource {key} in deploy/k8s/crd-schemas/"]
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(p) for p in error.path) or "(root)"
        return [f"{describe(doc)}: {path}: {error.message}"]
    except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as error:
        return [f"{describe(doc)}: {error}"]
    return []


def check_pod_security(doc: dict[str, Any]) -> list[str]:
    """The baseline every Deployment of the pipeline must meet."""
    if doc.get("kind") != "Deployment":
        return []
    problems: list[str] = []
    pod = doc["spec"]["template"]["spec"]
    if not pod.get("securityContext", {}).get("runAsNonRoot"):
        problems.append("pod securityContext.runAsNonRoot must be true")
    for container in pod.get("containers", []):
        name = container.get("name")
        context = container.get("securityContext", {})
        expected = {
            "runAsNonRoot": True,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
        }
        for field, value in expected.items():
            if context.get(field) is not value:
                problems.append(f"container {name}: securityContext.{field} must be {str(value).lower()}")
        if "ALL" not in context.get("capabilities", {}).get("drop", []):
            problems.append(f"container {name}: capabilities must drop ALL")
        resources = container.get("resources", {})
        for section in ("requests", "limits"):
            if not {"cpu", "memory"} <= set(resources.get(section, {})):
                problems.append(f"container {name}: resources.{section} needs cpu and memory")
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            if (container.get(probe) or {}).get("httpGet", {}).get("path") != path:
                problems.append(f"container {name}: {probe} must GET {path}")
    return [f"{describe(doc)}: {problem}" for problem in problems]


def rendered_prometheus_rule() -> str:
    """The PrometheusRule resource, generated from the plain rules file."""
    groups = yaml.safe_load(RULES_SOURCE.read_text())["groups"]
    resource = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "social-triage", "labels": {"release": "prometheus"}},
        "spec": {"groups": groups},
    }
    header = f"# Generated from deploy/monitoring/{RULES_SOURCE.name} by `make deploy-rules`; do not edit.\n"
    return header + yaml.safe_dump(resource, sort_keys=False, width=200)


def check_rules() -> list[str]:
    problems = []
    if not PROMETHEUS_RULE.exists() or PROMETHEUS_RULE.read_text() != rendered_prometheus_rule():
        problems.append(f"{PROMETHEUS_RULE.relative_to(DEPLOY.parent)} is stale: run `make deploy-rules`")
    checked = run(["promtool", "check", "rules", str(RULES_SOURCE)])
    if checked.returncode != 0:
        problems.append(f"promtool check rules: {checked.stdout.strip()} {checked.stderr.strip()}")
    tests = sorted(RULE_TESTS.glob("*.yaml"))
    if not tests:
        problems.append("no promtool rule tests under deploy/monitoring/tests/")
    for test in tests:
        tested = run(["promtool", "test", "rules", test.name], cwd=test.parent)
        if tested.returncode != 0:
            problems.append(f"promtool test rules {test.name}:\n{tested.stdout.strip()}\n{tested.stderr.strip()}")
    return problems


def check_policy(docs: Iterable[dict[str, Any]]) -> list[str]:
    router = shutil.which("triage-router") or str(Path(sys.executable).parent / "triage-router")
    problems = []
    for doc in docs:
        if doc.get("kind") == "ConfigMap" and doc["metadata"]["name"].startswith("triage-routing-policy"):
            with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
                handle.write(doc["data"]["policy.yaml"])
            checked = run([router, "check-policy", handle.name])
            Path(handle.name).unlink()
            if checked.returncode != 0:
                problems.append(f"routing policy ConfigMap: {checked.stdout.strip()} {checked.stderr.strip()}")
    return problems


def check_policy_copy() -> list[str]:
    if ROUTING_POLICY.read_text() != ROUTER_DEFAULT_POLICY.read_text():
        return [
            f"{os.path.relpath(ROUTING_POLICY, DEPLOY.parent)} differs from the router's shipped default "
            f"{os.path.relpath(ROUTER_DEFAULT_POLICY, DEPLOY.parent)}: run `make deploy-rules` to copy it "
            "(put cluster-specific changes in an overlay)"
        ]
    return []


def check_dashboard_copy() -> list[str]:
    """Kustomize reads only files under the component: it carries a copy of the dashboard."""
    if not DASHBOARD_COPY.exists() or DASHBOARD_COPY.read_text() != DASHBOARD.read_text():
        return [
            f"{os.path.relpath(DASHBOARD_COPY, DEPLOY.parent)} differs from "
            f"{os.path.relpath(DASHBOARD, DEPLOY.parent)}: run `make dashboards`"
        ]
    return []


def check_compose() -> list[str]:
    compose = DEPLOY / "compose.yaml"
    parsed = run(["docker-compose", "-f", str(compose), "config", "-q"])
    if parsed.returncode != 0:
        return [f"deploy/compose.yaml: {parsed.stderr.strip()}"]
    problems = []
    for name, service in yaml.safe_load(compose.read_text())["services"].items():
        build = service.get("build")
        if isinstance(build, dict):
            dockerfile = compose.parent / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
            if not dockerfile.is_file():
                problems.append(f"deploy/compose.yaml: service {name} builds from missing {dockerfile.resolve()}")
    return problems


def dockerfile_instructions(path: Path) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    instructions: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):  # comments may also sit inside a continued instruction
            continue
        pending += line.removesuffix("\\").strip() + " "
        if not line.endswith("\\"):
            instructions.append(pending.strip())
            pending = ""
    if pending:
        instructions.append(pending.strip())
    return instructions


def check_copy_sources(path: Path, context: Path) -> list[str]:
    """COPY and ADD sources of the build context (not ``--from`` a stage) that do not exist."""
    problems = []
    for instruction in dockerfile_instructions(path):
        keyword, _, rest = instruction.partition(" ")
        if keyword.upper() not in ("COPY", "ADD") or rest.lstrip().startswith("["):
            continue
        words = rest.split()
        flags = [word for word in words if word.startswith("--")]
        if any(flag.startswith("--from=") for flag in flags):
            continue
        sources = [word for word in words if not word.startswith("--")][:-1]
        for source in sources:
            if "://" in source:
                continue
            if source.startswith("/") or ".." in Path(source).parts:
                problems.append(f"{keyword.upper()} {source}: outside the build context")
            elif source.rstrip("/") not in ("", ".") and not any(context.glob(source.rstrip("/"))):
                problems.append(f"{keyword.upper()} {source}: not in the build context {context}")
    return problems


def check_dockerfile(path: Path) -> list[str]:
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    stages = [i for i, line in enumerate(lines) if line.upper().startswith("FROM ")]
    problems = []
    if len(stages) < 2:
        problems.append("must be multi-stage")
    final = lines[stages[-1] :] if stages else lines
    if not stages or "-slim" not in final[0]:
        problems.append("the final stage must start from a slim Python base")
    users = [line.split()[1] for line in final if line.upper().startswith("USER ")]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append("the final stage must switch to a non-root USER")
    if any(tool in line for line in final for tool in ("build-essential", "gcc", "g++", "apt-get install")):
        problems.append("the final stage must not install build tools")
    return [f"{path.relative_to(DEPLOY.parent)}: {problem}" for problem in problems]


def check_rendered(label: str, docs: list[dict[str, Any]], crds: dict[str, dict[str, Any]]) -> list[str]:
    """Schema, pod-security and routing-policy problems of one rendered kustomization."""
    kinds = sorted({doc["kind"] for doc in docs})
    print(f"{label}: {len(docs)} manifests ({', '.join(kinds)})")
    problems: list[str] = []
    for doc in docs:
        problems += validate_manifest(doc, crds) + check_pod_security(doc)
    problems += check_policy(docs)
    return [f"[{label}] {problem}" for problem in problems]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--write-rules",
        action="store_true",
        help="regenerate the PrometheusRule and copy the router's default policy into the base",
    )
    args = parser.parse_args(argv)
    if args.write_rules:
        PROMETHEUS_RULE.write_text(rendered_prometheus_rule())
        ROUTING_POLICY.write_text(ROUTER_DEFAULT_POLICY.read_text())
        return 0

    problems: list[str] = []
    crds = crd_schemas()
    for name in OVERLAYS:
        try:
            problems += check_rendered(f"overlay {name}", render(K8S / "overlays" / name), crds)
        except RuntimeError as error:
            problems.append(str(error))
    for composed in component_sets():
        label = " + ".join(["base", *(component.name for component in composed)])
        try:
            problems += check_rendered(label, render_with(composed), crds)
        except RuntimeError as error:
            problems.append(f"[{label}] {error}")
    problems += check_rules()
    problems += check_policy_copy()
    problems += check_dashboard_copy()
    problems += check_compose()
    for service in SERVICES:
        dockerfile = DEPLOY.parent / "services" / service / "Dockerfile"
        where = dockerfile.relative_to(DEPLOY.parent)
        if not dockerfile.exists():
            problems.append(f"missing {where}")
            continue
        problems += check_dockerfile(dockerfile)
        problems += [f"{where}: {problem}" for problem in check_copy_sources(dockerfile, DEPLOY.parent)]
    for problem in problems:
        print(f"FAIL {problem}")
    print("deploy-check: " + ("ok" if not problems else f"{len(problems)} problem(s)"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
