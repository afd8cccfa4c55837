"""The README's settings reference is generated from the settings models."""

from pathlib import Path

import pytest

from triage_local import settings_doc

README = Path(__file__).resolve().parents[3] / "README.md"


def test_readme_lists_every_setting_with_its_current_default() -> None:
    assert settings_doc.update(README, check=True), "README.md settings reference is stale: run `make docs`"


def test_every_service_setting_appears(tmp_path: Path) -> None:
    block = settings_doc.render()
    for variable in (
        "TRIAGE_KAFKA_SASL_MECHANISM",
        "TRIAGE_TOPIC_SLA_STATE",
        "TRIAGE_ROUTER_POLICY_FILE",
        "TRIAGE_SLA_MONITOR_POLICY_FILE",
        "TRIAGE_CLASSIFIER_BATCH_SIZE",
        "TRIAGE_INGEST_HTTP_PORT",
    ):
        assert f"`{variable}`" in block
    stale = tmp_path / "README.md"
    stale.write_text(f"# x\n\n{settings_doc.BEGIN}\nold\n{settings_doc.END}\n")
    assert not settings_doc.update(stale, check=True)
    assert settings_doc.update(stale) is False
    assert settings_doc.update(stale, check=True)


def test_a_readme_without_the_block_is_an_error(tmp_path: Path) -> None:
    bare = tmp_path / "README.md"
    bare.write_text("# no block\n")
    with pytest.raises(ValueError, match="settings:begin"):
        settings_doc.update(bare)
