"""The pipeline's AsyncAPI 3 document, ``docs/asyncapi.yaml`` (``make asyncapi``).

Each service is built by its own ``build(settings)`` with the default settings (the
environment's ``TRIAGE_*`` variables are set aside), so the document has the default
topic names and consumer groups; its subscribers are the ones the service really
wires, its writes the ones its contract declares (``triage_runtime.contract``). Nothing
connects to Kafka: the two steps of a build that need more than the code are replaced
while building, the classifier's model (the document needs its wiring, not its
weights) and the SLA monitor's partition check (a Kafka admin call). The four parts
become one document, written as YAML with sorted keys so that a stale copy shows as a
difference. ``validate`` runs the official AsyncAPI CLI (``@asyncapi/cli``, installed
by ``make asyncapi-cli`` into ``.run/npm``) on a file.
"""

import contextlib
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import yaml

from triage_runtime.contract import JSON, document, part, version_of
from triage_runtime.service import ServiceRuntime
from triage_runtime.settings import ServiceSettings

REPO = Path(__file__).resolve().parents[4]
DOCUMENT = REPO / "docs" / "asyncapi.yaml"
NPM_PREFIX = REPO / ".run" / "npm"
CLI = NPM_PREFIX / "node_modules" / ".bin" / "asyncapi"
# analytics off, kept in the project: the CLI would otherwise write to $HOME and post to the network
CLI_CONFIG = NPM_PREFIX / "asyncapi-analytics.json"
NO_MODEL = "asyncapi-document"

DESCRIPTION = """\
social-triage reads every platform event from Kafka, normalises it (ingest), classifies it
(classifier), routes it to an owner (router) and watches its first-response clock
(sla-monitor). This document is generated from the four services' code (`make asyncapi`);
each service serves its own part at `/asyncapi` on its HTTP port, with its settings.

* **Records**: one UTF-8 JSON object each, with a `record_type` and a `schema_version`;
  timestamps are ISO-8601 in UTC. The payload schemas are the record models of
  `triage_schemas.records` (also in `schemas/json/`).
* **Keys**: every record is keyed by `conversation_id`, so one conversation stays in
  order on one partition, except where a message's key says otherwise (the roster by
  agent id, surge alerts by dimension).
* **Topic names** are the defaults; each is a setting (`TRIAGE_TOPIC_*`), as are the
  consumer groups (`TRIAGE_<SERVICE>_CONSUMER_GROUP`).
* **Delivery**: at least once. Offsets are committed after a batch's outputs are
  acknowledged; a consumer recognises repeats by `message_id`, `event_id` or `alert_id`.
  Records the SLA monitor writes in transactions are read with
  `isolation.level=read_committed`.
* **Headers**: the services need none on what they read (with tracing on, they continue
  the trace of an inbound `traceparent`); what each writer sets is on each message.

Other systems take part through the topics only: platform connectors and webhook
gateways publish `raw_envelope` records to `social.raw`; help desks and agent tools
publish `conversation_event` records (`agent_replied`, `paused`, `resumed`, `resolved`, `reopened`)
to `social.conversation-events` and the roster's `agent` records to `social.agents`, and
read `social.routed` and `social.sla-alerts`. The `social.sla-state`, `social.sla-volume`
and `social.ingest-seen` topics are internal to one service each.
"""


@contextlib.contextmanager
def offline() -> Iterator[None]:
    """Default settings, no Kafka, and the logging configuration left as it was."""
    from triage_classifier import app as classifier_app
    from triage_sla_monitor import app as sla_monitor_app

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("TRIAGE_", "OTEL_"))}
    quiet = {f"TRIAGE_{s}_LOG_LEVEL": "WARNING" for s in ("INGEST", "CLASSIFIER", "ROUTER", "SLA_MONITOR")}

    async def partitions(settings: Any) -> int:
        return int(settings.topics.partitions)

    try:
        with (
            mock.patch.dict(os.environ, {**environment, **quiet}, clear=True),
            mock.patch.object(classifier_app, "load_classifier", _no_model),
            mock.patch.object(sla_monitor_app, "check_partitions", partitions),
        ):
            yield
    finally:
        root.handlers[:], root.level = handlers, level
        with contextlib.suppress(KeyError):  # the stand-in's series of the model gauge
            classifier_app.MODEL_INFO.remove(NO_MODEL)


def _no_model(settings: Any) -> Any:
    """What the classifier's build reads of its model: versions, for its log line and gauge."""
    return SimpleNamespace(
        version=NO_MODEL, taxonomy=SimpleNamespace(version=NO_MODEL), guardrails=SimpleNamespace(version=NO_MODEL)
    )


def services() -> dict[str, tuple[type[ServiceSettings], Callable[[Any], ServiceRuntime]]]:
    """Each service's settings class and ``build``."""
    from triage_classifier.app import build as classifier
    from triage_classifier.config import ClassifierSettings
    from triage_ingest.app import build as ingest
    from triage_ingest.config import IngestSettings
    from triage_router.app import build as router
    from triage_router.config import RouterSettings
    from triage_sla_monitor.app import build as sla_monitor
    from triage_sla_monitor.config import SlaMonitorSettings

    return {
        "ingest": (IngestSettings, ingest),
        "classifier": (ClassifierSettings, classifier),
        "router": (RouterSettings, router),
        "sla-monitor": (SlaMonitorSettings, sla_monitor),
    }


def build_offline(service: str, settings: ServiceSettings | None = None) -> ServiceRuntime:
    """One service as its ``build`` puts it together, without Kafka or a model; with the
    default settings unless given its own."""
    settings_class, build = services()[service]
    with offline():
        return build(settings if settings is not None else settings_class())


def pipeline_document() -> JSON:
    parts = []
    for service in services():
        runtime = build_offline(service)
        if runtime.contract is None:
            raise RuntimeError(f"{service} declares no contract")
        parts.append(part(runtime.name, runtime.settings, runtime.broker, runtime.contract))
    return document(parts, title="social-triage", version=version_of("triage-schemas"), description=DESCRIPTION)


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # every object written out where it is: no anchors


def _text(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    """Several lines as a literal block, as they were written."""
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


_Dumper.add_representer(str, _text)


def render(doc: JSON | None = None) -> str:
    """The document as YAML, keys sorted: the same code gives the same bytes."""
    header = "# Generated by `make asyncapi` (triage-local asyncapi) from the services' code: do not edit.\n"
    text = yaml.dump(doc or pipeline_document(), Dumper=_Dumper, sort_keys=True, allow_unicode=True, width=100)
    return header + text


def stale(path: Path = DOCUMENT) -> bool:
    return not path.exists() or path.read_text(encoding="utf-8") != render()


def write(path: Path = DOCUMENT) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(), encoding="utf-8")


class ValidatorMissing(RuntimeError):
    pass


def validate(path: Path = DOCUMENT) -> subprocess.CompletedProcess[str]:
    """Run ``asyncapi validate`` on ``path``, failing on warnings too; raises
    ``ValidatorMissing`` when Node.js or the CLI is not installed."""
    return subprocess.run(_validate_command(path), capture_output=True, text=True, check=False, timeout=180,
                          **_cli_environment())  # fmt: skip


def validate_in_background(path: Path) -> "subprocess.Popen[str]":
    """``validate`` started, for several files at once; ``communicate()`` gives its output."""
    return subprocess.Popen(_validate_command(path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **_cli_environment())  # fmt: skip


def _validate_command(path: Path) -> list[str]:
    if shutil.which("node") is None:
        raise ValidatorMissing("Node.js is not installed: the AsyncAPI CLI needs it (apt-get install nodejs npm)")
    if not CLI.exists():
        raise ValidatorMissing(f"the AsyncAPI CLI is not installed at {CLI}: run `make asyncapi-cli`")
    return [str(CLI), "validate", str(path.resolve()), "--fail-severity", "warn"]


def _cli_environment() -> dict[str, Any]:
    if not CLI_CONFIG.exists():
        CLI_CONFIG.write_text(
            json.dumps({"analyticsEnabled": "false", "infoMessageShown": "true", "userID": "social-triage"}),
            encoding="utf-8",
        )
    env = {
        **os.environ,
        "CI": "true",  # no analytics either way
        "ASYNCAPI_METRICS_CONFIG_PATH": str(CLI_CONFIG),
        "SUPPRESS_NO_CONFIG_WARNING": "1",
        "NODE_NO_WARNINGS": "1",
        "NO_COLOR": "1",
    }
    return {"env": env, "cwd": NPM_PREFIX}


def cli_version() -> str:
    package = NPM_PREFIX / "node_modules" / "@asyncapi" / "cli" / "package.json"
    return str(json.loads(package.read_text(encoding="utf-8"))["version"])
