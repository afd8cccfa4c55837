"""`train --if-missing` and `evaluate`, the commands behind `make model` and `make evaluate`."""

import json
from pathlib import Path

import pytest

from services.classifier.tests.classifier_support import TINY_CONFIG
from triage_classifier.cli import evaluate_command, train_command
from triage_classifier.config import ClassifierSettings
from triage_classifier.model import CURRENT_FILE


def test_model_is_trained_once_per_corpus_then_evaluated(
    tiny_corpus_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = ClassifierSettings(corpus_dir=tiny_corpus_dir, model_dir=tmp_path / "models")
    assert train_command(settings, True, TINY_CONFIG) == 0
    version = (tmp_path / "models" / CURRENT_FILE).read_text(encoding="utf-8").strip()
    assert "written to" in capsys.readouterr().out
    assert train_command(settings, True, TINY_CONFIG) == 0
    assert f"model {version} is up to date" in capsys.readouterr().out

    assert evaluate_command(settings, tmp_path / "reports") == 0
    printed = capsys.readouterr().out
    for figure in ("p1_recall", "issue_type_macro_f1", "lane_macro_f1", "priority_macro_f1", "confusion matrix"):
        assert figure in printed
    figures = json.loads((tmp_path / "reports" / "classifier-evaluation.json").read_text(encoding="utf-8"))
    assert figures["model_version"] == version
    assert len(figures["confusion_matrix"]["rows_true_columns_predicted"]) == 12
    assert (tmp_path / "reports" / "classifier-evaluation.txt").read_text(encoding="utf-8") in printed


def test_a_grown_corpus_gets_a_new_model_version(tiny_corpus_dir: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    original = (tiny_corpus_dir / "tiny.jsonl").read_text(encoding="utf-8")
    (corpus / "tiny.jsonl").write_text(original, encoding="utf-8")
    settings = ClassifierSettings(corpus_dir=corpus, model_dir=tmp_path / "models")
    train_command(settings, True, TINY_CONFIG)
    first = (tmp_path / "models" / CURRENT_FILE).read_text(encoding="utf-8")
    extra = {
        "id": "tiny-extra",
        "lang": "fr",
        "text": "merci beaucoup",
        "issue_type": "feedback",
        "sentiment": "positive",
    }
    (corpus / "tiny.jsonl").write_text(original + json.dumps(extra) + "\n", encoding="utf-8")
    train_command(settings, True, TINY_CONFIG)
    second = (tmp_path / "models" / CURRENT_FILE).read_text(encoding="utf-8")
    assert first != second
    assert (tmp_path / "models" / first.strip()).is_dir() and (tmp_path / "models" / second.strip()).is_dir()
