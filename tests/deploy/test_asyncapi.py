"""The pipeline's AsyncAPI document: generated from the services' code, committed up to
date, valid for the official AsyncAPI CLI, covering every topic with its keys, records,
headers and consumer groups; and each service serving its own part at ``/asyncapi``.

Without Node.js, npm or the registry the CLI cannot be had: those tests fail, they
never skip."""

import asyncio
import difflib
import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.handlers.test_classifier_handlers import CLASSIFIER
from tests.handlers.test_ingest_handlers import INGEST
from tests.handlers.test_router_handlers import ROUTER
from tests.handlers.test_sla_monitor_handlers import SLA_MONITOR
from triage_local import asyncapi
from triage_runtime import delivery
from triage_runtime.contract import PUBLISHED_HEADERS, Contract, ContractError, part
from triage_runtime.topics import TopicSettings

REPO = asyncapi.REPO
SERVICES = ("ingest", "classifier", "router", "sla-monitor")


@pytest.fixture(scope="module")
def cli() -> Path:
    """The AsyncAPI CLI, installed (once) by its make target."""
    installed = subprocess.run(["make", "-s", "asyncapi-cli"], cwd=REPO, capture_output=True, text=True, check=False)
    if installed.returncode != 0 or not asyncapi.CLI.exists():
        pytest.fail(f"`make asyncapi-cli` failed:\n{installed.stdout}{installed.stderr}", pytrace=False)
    return asyncapi.CLI


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(asyncapi.DOCUMENT.read_text(encoding="utf-8"))
    return loaded


def validation(path: Path) -> str:
    try:
        result = asyncapi.validate(path)
    except asyncapi.ValidatorMissing as error:
        pytest.fail(str(error), pytrace=False)
    assert result.returncode == 0, f"asyncapi validate {path.name}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_the_committed_document_is_what_the_services_code_gives() -> None:
    committed = asyncapi.DOCUMENT.read_text(encoding="utf-8") if asyncapi.DOCUMENT.exists() else ""
    fresh = asyncapi.render()
    if committed != fresh:
        diff = difflib.unified_diff(committed.splitlines(True), fresh.splitlines(True), "committed", "generated")
        pytest.fail("docs/asyncapi.yaml is stale: run `make asyncapi`\n" + "".join(list(diff)[:60]), pytrace=False)


def test_the_document_is_the_same_from_one_run_to_the_next() -> None:
    assert asyncapi.render() == asyncapi.render()


def test_the_official_asyncapi_cli_finds_no_error_or_warning(cli: Path) -> None:
    output = validation(asyncapi.DOCUMENT)
    assert "0 errors, 0 warnings" in output or "is valid" in output, output


def test_the_cli_fails_a_document_with_a_broken_reference(cli: Path, tmp_path: Path) -> None:
    """The check has teeth: an operation on a channel that does not exist is an error."""
    broken: dict[str, Any] = yaml.safe_load(asyncapi.DOCUMENT.read_text(encoding="utf-8"))
    broken["operations"]["classifier.receive.messages"]["channel"] = {"$ref": "#/channels/no-such-topic"}
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken), encoding="utf-8")
    result = asyncapi.validate(path)
    assert result.returncode != 0, result.stdout
    assert "no-such-topic" in result.stdout + result.stderr


def test_every_topic_is_a_channel_with_its_records_and_keys(document: dict[str, Any]) -> None:
    topics = TopicSettings()
    channels = document["channels"]
    messages = document["components"]["messages"]
    assert {key: channel["address"] for key, channel in channels.items()} == topics.all_topics()
    for key, channel in channels.items():
        assert channel["bindings"]["kafka"]["partitions"] == topics.partitions
        assert channel["messages"], f"{key} has no record"
        for name in channel["messages"]:
            message = messages[name]
            assert message["bindings"]["kafka"]["key"]["description"], f"{name} has no key"
            assert message["payload"], f"{name} has no schema"
    assert messages["routed"]["payload"] == {"$ref": "#/components/schemas/RoutedMessage"}
    assert set(channels["sla_alerts"]["messages"]) == {"sla_alert", "surge_alert"}
    assert "dimension" in messages["surge_alert"]["bindings"]["kafka"]["key"]["description"]
    assert "agent_id" in messages["agent"]["bindings"]["kafka"]["key"]["description"]
    assert channels["sla_state"]["bindings"]["kafka"]["topicConfiguration"] == {"cleanup.policy": ["compact"]}


def test_every_consumer_group_reads_what_its_service_subscribes(document: dict[str, Any]) -> None:
    operations = document["operations"]

    def group(name: str) -> str:
        return str(operations[name]["bindings"]["kafka"]["groupId"]["enum"][0])

    settings = {service: asyncapi.services()[service][0]() for service in SERVICES}
    sla = settings["sla-monitor"]
    assert group("ingest.receive.raw") == settings["ingest"].consumer_group
    assert group("classifier.receive.messages") == settings["classifier"].consumer_group
    assert group("router.receive.classified") == settings["router"].consumer_group
    assert group("sla-monitor.receive.routed") == group("sla-monitor.receive.conversation_events") == sla.consumer_group
    volume = f"sla-monitor.receive.sla_volume.{sla.surge_group}"  # type: ignore[attr-defined]
    assert group(volume) == sla.surge_group  # type: ignore[attr-defined]
    assert "read_committed" in operations[volume]["description"]
    for name, op in operations.items():
        if op["action"] != "receive":
            continue
        if ".read." in name:  # a plain consumer: a table, or a restore of the service's own state
            assert "bindings" not in op and "outside any consumer group" in op["description"], name
        else:
            assert group(name), name
    # the logs read outside a group: the router's tables, the services' own state
    assert {"ingest.read.ingest_seen", "router.read.agents", "router.read.conversation_events",
            "sla-monitor.read.sla_state"} <= set(operations)  # fmt: skip


def test_every_output_the_handler_cases_see_is_a_declared_write(document: dict[str, Any]) -> None:
    topics = TopicSettings()
    keys = {name: key for key, name in topics.all_topics().items()}
    for spec in (INGEST, CLASSIFIER, ROUTER, SLA_MONITOR):
        for topic in spec.outputs(topics):
            assert f"{spec.name}.send.{keys[topic]}" in document["operations"], f"{spec.name} writes {topic}"
    assert "router.send.conversation_events" in document["operations"]  # assignments


def test_headers_are_what_each_writer_sets(document: dict[str, Any]) -> None:
    messages = document["components"]["messages"]
    # the delivery step's header, as the document says
    assert PUBLISHED_HEADERS["content-type"]["const"] == delivery._HEADERS["content-type"]
    assert messages["routed"]["headers"]["properties"]["content-type"]["const"] == "application/json"
    # the SLA monitor's transactional producer sets no content type
    assert "content-type" not in messages["sla_alert"]["headers"]["properties"]
    assert "headers" not in messages["clock_state"]
    operation = document["operations"]["sla-monitor.send.sla_alerts"]
    assert "isolation.level=read_committed" in operation["description"]


def test_a_contract_that_misses_a_subscription_is_refused() -> None:
    runtime = asyncapi.build_offline("classifier")
    assert runtime.contract is not None
    without_input = Contract(reads=[], writes=runtime.contract.writes)
    with pytest.raises(ContractError, match=r"subscribes to social\.messages"):
        part("classifier", runtime.settings, runtime.broker, without_input)


def custom_settings(service: str) -> Any:
    """The service's settings with topic names and groups of a deployment's own."""
    settings_class = asyncapi.services()[service][0]
    names = {key: f"acme.{key}" for key in TopicSettings().all_topics()}
    topics = TopicSettings.model_validate({**names, "partitions": 12})
    return settings_class(topics=topics, consumer_group=f"acme-{service}")


@pytest.mark.parametrize("service", SERVICES)
async def test_each_service_serves_its_own_part_at_asyncapi(service: str) -> None:
    """Over the service's HTTP app as its runtime serves it, without Kafka: the routes
    answer without the lifespan, which would connect."""
    # in a worker thread: the SLA monitor's build runs its partition check with asyncio.run
    runtime = await asyncio.to_thread(asyncapi.build_offline, service, custom_settings(service))
    transport = httpx.ASGITransport(app=runtime.asgi_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        response = await client.get("/asyncapi")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    served = response.json()
    assert served["asyncapi"] == "3.0.0"
    assert served["info"]["title"] == f"social-triage {service}"
    addresses = {channel["address"] for channel in served["channels"].values()}
    assert addresses and all(address.startswith("acme.") for address in addresses)
    assert all(channel["bindings"]["kafka"]["partitions"] == 12 for channel in served["channels"].values())
    tags = {tag["name"] for op in served["operations"].values() for tag in op["tags"]}
    assert tags == {service}
    groups = {op["bindings"]["kafka"]["groupId"]["enum"][0] for op in served["operations"].values() if "bindings" in op}
    assert f"acme-{service}" in groups


def test_each_services_part_is_valid_for_the_official_cli(cli: Path, tmp_path: Path) -> None:
    """The four parts validated at once (the CLI takes a few seconds per file)."""
    running = {}
    for service in SERVICES:
        path = tmp_path / f"{service}.json"
        path.write_text(json.dumps(asyncapi.build_offline(service).asyncapi()), encoding="utf-8")
        running[service] = asyncapi.validate_in_background(path)
    for service, process in running.items():
        stdout, stderr = process.communicate(timeout=180)
        assert process.returncode == 0, f"{service}'s /asyncapi:\n{stdout}\n{stderr}"
