"""Lane and priority come from the taxonomy file, which leads can override."""

from pathlib import Path

import pytest

from triage_classifier.classify import Classifier, Policy
from triage_classifier.guardrails import load_guardrails
from triage_classifier.model import TrainedModel
from triage_classifier.taxonomy import DEFAULT_TAXONOMY, TaxonomyError, load_taxonomy
from triage_schemas.enums import IssueType, Lane, Priority


def test_shipped_taxonomy_follows_the_spec_table() -> None:
    taxonomy = load_taxonomy()
    by_lane = {lane: sorted(i.value for i in IssueType if taxonomy.lane(i) == lane) for lane in Lane}
    assert by_lane[Lane.RISK] == ["harassment", "legal_regulatory", "safety_threat"]
    assert by_lane[Lane.SALES] == ["partnership", "sales_lead"]
    assert by_lane[Lane.SUPPORT] == ["account_compromise", "order_shipping", "payment_issue", "technical_issue"]
    p1 = {i for i in IssueType if taxonomy.priority(i) == Priority.P1}
    assert p1 == {
        IssueType.SAFETY_THREAT,
        IssueType.ACCOUNT_COMPROMISE,
        IssueType.HARASSMENT,
        IssueType.LEGAL_REGULATORY,
    }
    assert {i for i in IssueType if taxonomy.priority(i) == Priority.P2} == {
        IssueType.PAYMENT_ISSUE,
        IssueType.ORDER_SHIPPING,
    }


def test_an_override_file_moves_a_type_without_code_changes(tmp_path: Path, tiny_model: TrainedModel) -> None:
    override = tmp_path / "taxonomy.yaml"
    override.write_text(
        DEFAULT_TAXONOMY.read_text(encoding="utf-8").replace(
            "feedback:           {lane: community, priority: P3}", "feedback:           {lane: sales, priority: P2}"
        ),
        encoding="utf-8",
    )
    classifier = Classifier(tiny_model, load_taxonomy(override), load_guardrails(), Policy())
    [result] = classifier.classify(["love this colour so much, thank you"])
    assert result.issue_type == IssueType.FEEDBACK
    assert (result.lane, result.priority) == (Lane.SALES, Priority.P2)


def test_an_incomplete_taxonomy_is_refused_naming_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "taxonomy.yaml"
    broken.write_text(
        "version: x\nissue_types:\n  spam: {lane: community, priority: P3}\nurgency: [spam]\n", encoding="utf-8"
    )
    with pytest.raises(TaxonomyError, match=r"taxonomy\.yaml: .*issue_types lacks"):
        load_taxonomy(broken)
    broken.write_text("version: x\nissue_types: {spam: {lane: marketing, priority: P3}}\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="lane"):
        load_taxonomy(broken)
