"""`train --if-missing` and `evaluate`, the commands behind `make model` and `make evaluate`."""

import io
import json
from pathlib import Path

import pytest

from services.classifier.tests.classifier_support import TINY_CONFIG
from triage_classifier.cli import evaluate_command, main, train_command
from triage_classifier.config import ClassifierSettings
from triage_classifier.model import CURRENT_FILE, TrainedModel


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


# `classify` on hostile lines (issue 13): one answer per line, exit 1 when any was rejected.


@pytest.fixture
def model_dir(tiny_model: TrainedModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "models"
    tiny_model.save(directory)
    monkeypatch.setenv("TRIAGE_CLASSIFIER_MODEL_DIR", str(directory))
    return directory


def classify(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], lines: list[bytes]
) -> tuple[int, list[dict[str, object]], list[str]]:
    """``triage-classifier classify`` with ``lines`` on stdin: exit status, records, stderr lines."""
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"\n".join(lines) + b"\n"), encoding="utf-8"))
    code = main(["classify"])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.split("\n") if line], err.splitlines()


def text_line(text: str) -> bytes:
    return json.dumps({"text": text}).encode()


@pytest.mark.usefixtures("model_dir")
def test_classify_exits_0_when_every_line_was_classified(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, records, err = classify(monkeypatch, capsys, [text_line("where is my order"), text_line("love it")])
    assert (code, [r["record_type"] for r in records], err) == (0, ["classified", "classified"], [])


@pytest.mark.usefixtures("model_dir")
@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (text_line("\ud800 my account got hacked"), "unpaired surrogate"),
        (b'{"text": "hacked \xed\xa0\x80"}', "not valid UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested more than 64 levels deep"),
        (b"5", "a JSON int, not a record"),
        (b'{"record_type": "clasified", "message_id": "m1"}', "record_type 'clasified' is not one of"),
        (b'{"text": "hi", "author_followers": NaN}', "NaN"),
        (
            json.dumps({"record_type": "message", "created_at": "0001-01-01T00:00:00+05:00"}).encode(),
            "not a valid message",
        ),
    ],
)
def test_hostile_lines_are_line_errors_and_the_good_lines_around_them_are_classified(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], line: bytes, reason: str
) -> None:
    lines = [text_line("where is my order"), line, text_line("my account got hacked")]
    code, records, err = classify(monkeypatch, capsys, lines)
    assert code == 1
    assert [r["text"] for r in records] == ["where is my order", "my account got hacked"]
    assert err[0].startswith("line 2: ") and reason in err[0], err
    assert err[1:] == ["triage-classifier classify: 1 line was rejected (see the line N: messages above)"]
