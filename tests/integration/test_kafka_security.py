"""Services connect to a SASL-protected broker with credentials from their settings,
and fail clearly with wrong ones. The test starts its own local broker whose client
listener speaks SASL_PLAINTEXT with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512."""

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import KAFKA_SCRIPT, ServiceProcess, free_port
from triage_runtime.kafka import KafkaSettings, ensure_topics
from triage_runtime.topics import TopicSettings

pytestmark = pytest.mark.kafka

USER, PASSWORD = "triage-svc", "s3cret-for-tests"

JAAS = """\
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.client.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \
user_{user}="{password}";
listener.name.client.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.client.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
"""


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    state = tmp_path_factory.mktemp("sasl-kafka")
    extra = state / "sasl.properties"
    extra.write_text(JAAS.format(user=USER, password=PASSWORD))
    port = free_port()
    scram = f"[name={USER},password={PASSWORD}]"
    env = {
        **os.environ,
        "TRIAGE_KAFKA_STATE_DIR": str(state / "broker"),
        "TRIAGE_KAFKA_PORT": str(port),
        "TRIAGE_KAFKA_CONTROLLER_PORT": str(free_port()),
        "TRIAGE_KAFKA_INTERNAL_PORT": str(free_port()),
        "TRIAGE_KAFKA_LISTENER_SECURITY": "SASL_PLAINTEXT",
        "TRIAGE_KAFKA_EXTRA_CONFIG": str(extra),
        "TRIAGE_KAFKA_FORMAT_ARGS": f"--add-scram 'SCRAM-SHA-256={scram}' --add-scram 'SCRAM-SHA-512={scram}'",
        "KAFKA_HEAP_OPTS": "-Xms128m -Xmx384m",
    }
    started = subprocess.run([str(KAFKA_SCRIPT), "up"], env=env, capture_output=True, text=True, timeout=300)
    if started.returncode != 0:
        pytest.fail(f"the SASL test broker did not start:\n{started.stderr[-3000:]}", pytrace=False)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([str(KAFKA_SCRIPT), "down"], env=env, capture_output=True, timeout=120)


def sasl_env(bootstrap: str, mechanism: str, password: str) -> dict[str, str]:
    return {
        "TRIAGE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "TRIAGE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "TRIAGE_KAFKA_SASL_MECHANISM": mechanism,
        "TRIAGE_KAFKA_SASL_USERNAME": USER,
        "TRIAGE_KAFKA_SASL_PASSWORD": password,
    }


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
async def test_service_connects_with_credentials(sasl_broker: str, mechanism: str, tmp_path: Path) -> None:
    env = sasl_env(sasl_broker, mechanism, PASSWORD)
    settings = KafkaSettings.model_validate(
        {key.removeprefix("TRIAGE_KAFKA_").lower(): value for key, value in env.items()}
    )
    await ensure_topics(settings, TopicSettings())  # the admin client authenticates too

    router = ServiceProcess("router", env, log_path=tmp_path / "router.log").start()
    try:
        await router.wait_ready(timeout=60)
        assert "kafka_unreachable" not in router.log_tail(200)
    finally:
        assert router.stop() == 0


async def test_wrong_password_fails_fast_and_says_why(sasl_broker: str, tmp_path: Path) -> None:
    env = sasl_env(sasl_broker, "SCRAM-SHA-256", "not-the-password")
    router = ServiceProcess("router", env, log_path=tmp_path / "router.log").start()
    assert router.process is not None
    exit_code = router.process.wait(timeout=60)
    log = router.log_tail(200)
    assert exit_code != 0
    assert "kafka_unreachable" in log
    assert "invalid credentials" in log
    assert "not-the-password" not in log
