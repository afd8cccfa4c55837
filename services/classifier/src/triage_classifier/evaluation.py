"""Figures on the test split, and on the P1 stress set: what `make evaluate` prints and
writes to the report."""

import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from triage_classifier.classify import Classifier
from triage_classifier.corpus import Corpus, Example
from triage_runtime.jsonlines import validation_summary
from triage_schemas.enums import IssueType, Priority

# Messages written to test P1 recall on noisy text by other writers: never trained on and
# never tuned on (it lives outside the corpus directory, which `load_corpus` reads).
DEFAULT_STRESS_FILE = Path(__file__).resolve().parents[2] / "data" / "p1-stress" / "stress.jsonl"

StressKind = Literal[
    "self_harm", "product_danger", "staff_threat", "violence", "hate_removal", "other", "hard_negative"
]


@dataclass
class Targets:
    p1_recall: float = 0.97
    issue_type_macro_f1: float = 0.85
    lane_macro_f1: float = 0.90
    p1_stress_recall: float = 0.99


class StressExample(BaseModel):
    """One line of the P1 stress set: a message, whether it must come out P1, and the
    issue type a reviewer expects; ``explicit`` marks a first-person self-harm statement
    or a threat of violence, which must be caught without exception."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    lang: str
    kind: StressKind
    p1: bool
    explicit: bool = False
    issue_type: IssueType
    text: str


class StressSetError(ValueError):
    """The stress set cannot be read; the message names the file and the line."""


def load_stress_set(path: Path = DEFAULT_STRESS_FILE) -> list[StressExample]:
    """Every line of the stress set; a bad line or a repeated id is an error, not a skip
    (a silently dropped message would raise the recall)."""
    examples: list[StressExample] = []
    seen: set[str] = set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise StressSetError(f"{path}: cannot read: {error.strerror}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            example = StressExample.model_validate_json(line)
        except ValidationError as error:
            raise StressSetError(f"{path.name}:{number}: {validation_summary(error, limit=1)}") from None
        if example.id in seen:
            raise StressSetError(f"{path.name}:{number}: id {example.id} repeated")
        if example.explicit and not example.p1:
            raise StressSetError(f"{path.name}:{number}: an explicit statement must be p1")
        seen.add(example.id)
        examples.append(example)
    return examples


def evaluate(
    classifier: Classifier,
    corpus: Corpus,
    targets: Targets | None = None,
    stress_file: Path | None = DEFAULT_STRESS_FILE,
) -> dict[str, Any]:
    """Figures on the corpus's test split and, when ``stress_file`` exists, on the P1
    stress set (reported apart: it is not drawn from the corpus)."""
    targets = targets or Targets()
    test = corpus.split("test")
    if not test:
        raise ValueError("the corpus has no test examples")
    results = classifier.classify([example.text for example in test])
    taxonomy = classifier.taxonomy
    labels = [issue.value for issue in IssueType]
    truth = [example.issue_type.value for example in test]
    predicted = [result.issue_type.value for result in results]
    model_only = [max(result.scores, key=lambda issue: result.scores[issue]).value for result in results]

    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=labels, zero_division=0)
    per_class = {
        label: {
            "precision": round(float(p), 4),
            "recall": round(float(r), 4),
            "f1": round(float(f), 4),
            "support": int(s),
        }
        for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
    }
    lanes_true = [taxonomy.lane(IssueType(t)).value for t in truth]
    lanes_pred = [result.lane.value for result in results]
    prio_true = [taxonomy.priority(IssueType(t)).value for t in truth]
    prio_pred = [result.priority.value for result in results]
    prio_model = [taxonomy.priority(IssueType(m)).value for m in model_only]
    p1 = [i for i, p in enumerate(prio_true) if p == Priority.P1.value]

    figures: dict[str, Any] = {
        "model_version": classifier.version,
        "taxonomy_version": taxonomy.version,
        "guardrails_version": classifier.guardrails.version,
        "p1_threshold": classifier.p1_threshold,
        "test_examples": len(test),
        "test_by_lang": dict(sorted(Counter(example.lang for example in test).items())),
        "issue_types_missing_from_test": [label for label in labels if label not in truth],
        "issue_type_macro_f1": _macro(truth, predicted, labels),
        "issue_type_macro_f1_model_only": _macro(truth, model_only, labels),
        "lane_macro_f1": _macro(lanes_true, lanes_pred, sorted(set(lanes_true))),
        "priority_macro_f1": _macro(prio_true, prio_pred, sorted(set(prio_true))),
        "p1_recall": _share(prio_pred[i] == Priority.P1.value for i in p1),
        "p1_recall_model_only": _share(prio_model[i] == Priority.P1.value for i in p1),
        "p1_precision": _share(
            prio_true[i] == Priority.P1.value for i, p in enumerate(prio_pred) if p == Priority.P1.value
        ),
        "needs_review_share": _share(result.needs_review for result in results),
        "sentiment_macro_f1": _macro(
            [str(example.sentiment) for example in test],
            [result.sentiment.label.value for result in results],
            sorted({str(example.sentiment) for example in test}),
        ),
        "promotions": sum(1 for result in results if result.reasons),
        "promotions_to_the_labelled_type": sum(
            1 for result, t in zip(results, truth, strict=True) if result.reasons and result.issue_type.value == t
        ),
        "issue_type_macro_f1_by_lang": _by_lang(test, truth, predicted, labels),
        "per_class": per_class,
        "confusion_matrix": {
            "labels": labels,
            "rows_true_columns_predicted": confusion_matrix(truth, predicted, labels=labels).tolist(),
        },
        "guardrail_review_on_train": guardrail_review(classifier, corpus.split("train")),
    }
    figures["targets"] = {
        "p1_recall": {"target": targets.p1_recall, "met": figures["p1_recall"] >= targets.p1_recall},
        "issue_type_macro_f1": {
            "target": targets.issue_type_macro_f1,
            "met": figures["issue_type_macro_f1"] >= targets.issue_type_macro_f1,
        },
        "lane_macro_f1": {"target": targets.lane_macro_f1, "met": figures["lane_macro_f1"] >= targets.lane_macro_f1},
    }
    if stress_file is not None and stress_file.exists():
        figures["p1_stress"] = stress_figures(classifier, load_stress_set(stress_file), targets)
    return figures


def stress_figures(classifier: Classifier, examples: list[StressExample], targets: Targets) -> dict[str, Any]:
    """P1 recall on the stress set through the service's own classification path, the
    false-alarm rate on its look-alike messages, and every message missed, by id."""
    results = classifier.classify([example.text for example in examples])
    flagged = [result.priority == Priority.P1 for result in results]
    clipped = [example.text[: classifier.policy.max_model_chars] for example in examples]
    guarded = [
        any(classifier.taxonomy.priority(signal.issue_type) == Priority.P1 for signal in signals)
        for signals in classifier.guardrails.signals_batch(clipped)
    ]
    p1 = [i for i, example in enumerate(examples) if example.p1]
    negatives = [i for i, example in enumerate(examples) if not example.p1]
    explicit = [i for i in p1 if examples[i].explicit]

    def row(i: int) -> dict[str, Any]:
        result = results[i]
        return {
            "id": examples[i].id,
            "kind": examples[i].kind,
            "expected": examples[i].issue_type.value,
            "predicted": result.issue_type.value,
            "confidence": round(result.confidence, 4),
            "reasons": list(result.reasons),
        }

    def recall_by(key: str) -> dict[str, float]:
        groups: dict[str, list[int]] = defaultdict(list)
        for i in p1:
            groups[str(getattr(examples[i], key))].append(i)
        return {name: _share(flagged[i] for i in rows) for name, rows in sorted(groups.items())}

    recall = _share(flagged[i] for i in p1)
    explicit_caught = sum(1 for i in explicit if flagged[i])
    return {
        "messages": len(examples),
        "p1_messages": len(p1),
        "look_alikes": len(negatives),
        "by_lang": dict(sorted(Counter(example.lang for example in examples).items())),
        "p1_recall": recall,
        "p1_recall_by_kind": recall_by("kind"),
        "p1_recall_by_lang": recall_by("lang"),
        "p1_recall_guardrails_alone": _share(guarded[i] for i in p1),
        "issue_type_accuracy_on_p1": _share(results[i].issue_type == examples[i].issue_type for i in p1),
        "explicit_statements": len(explicit),
        "explicit_caught": explicit_caught,
        "false_alarm_rate": _share(flagged[i] for i in negatives),
        "missed": [row(i) for i in p1 if not flagged[i]],
        "false_alarms": [row(i) for i in negatives if flagged[i]],
        "targets": {
            "p1_recall": {"target": targets.p1_stress_recall, "met": recall >= targets.p1_stress_recall},
            "explicit_caught": {"target": len(explicit), "met": explicit_caught == len(explicit)},
        },
    }


# The figures compared with and without the corrections.
COMPARED = (
    "p1_recall",
    "issue_type_macro_f1",
    "lane_macro_f1",
    "priority_macro_f1",
    "p1_precision",
    "sentiment_macro_f1",
    "needs_review_share",
)


def test_split_fingerprint(corpus: Corpus) -> dict[str, Any]:
    """The test split's size and a hash of its ids and texts: equal with and without the
    corrections, since corrections are never test lines."""
    test = sorted(corpus.split("test"), key=lambda example: example.id)
    digest = hashlib.sha256()
    for example in test:
        digest.update(f"{example.id}\0{example.text}\0".encode())
    return {"examples": len(test), "digest": digest.hexdigest()[:16]}


def _right(classifier: Classifier, examples: list[Example]) -> int:
    results = classifier.classify([example.text for example in examples]) if examples else []
    return sum(1 for result, example in zip(results, examples, strict=True) if result.issue_type == example.issue_type)


def corrections_figures(
    corpus: Corpus,
    with_corrections: tuple[Classifier, dict[str, Any]] | None,
    without_corrections: tuple[Classifier, dict[str, Any]] | None,
    note: str | None = None,
) -> dict[str, Any]:
    """What the corrections change, on the same test split: each model's figures, and
    how many of the corrected examples each gets right (the one trained with them
    should get them right; the one without shows what the corrections taught)."""
    section: dict[str, Any] = {
        "files": [path.name for path in corpus.correction_files],
        "used": len(corpus.corrections),
        "not_used": list(corpus.correction_notes),
        "test_split": test_split_fingerprint(corpus),
        "corrections_in_test_split": sum(1 for example in corpus.split("test") if example.source == "correction"),
        "note": note,
    }
    for name, pair in (("with", with_corrections), ("without", without_corrections)):
        if pair is None:
            continue
        classifier, figures = pair
        row: dict[str, Any] = {"model_version": classifier.version}
        row.update({figure: figures[figure] for figure in COMPARED})
        if "p1_stress" in figures:
            row["p1_stress_recall"] = figures["p1_stress"]["p1_recall"]
            row["p1_stress_false_alarm_rate"] = figures["p1_stress"]["false_alarm_rate"]
        right = _right(classifier, corpus.corrections)
        row["corrected_examples_right"] = right
        used = len(corpus.corrections)
        row["corrected_examples_right_share"] = round(right / used, 4) if used else None
        section[name] = row
    return section


def guardrail_review(classifier: Classifier, examples: list[Example]) -> dict[str, dict[str, int]]:
    """How often each rule fires on the train split and what the label was there:
    the evidence a reviewer needs to keep, narrow or drop a rule (never the test split)."""
    fired: dict[str, Counter[str]] = defaultdict(Counter)
    for example in examples:
        for signal in classifier.guardrails.signals(example.text[: classifier.policy.max_model_chars]):
            fired[signal.rule_id]["fires"] += 1
            agrees = example.issue_type == signal.issue_type
            fired[signal.rule_id]["label_agrees" if agrees else "label_differs"] += 1
    return {rule.id: dict(fired.get(rule.id, Counter())) for rule in classifier.guardrails.rules}


def _macro(truth: list[str], predicted: list[str], labels: list[str]) -> float:
    return round(float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)), 4)


def _share(flags: Any) -> float:
    values = [bool(flag) for flag in flags]
    return round(sum(values) / len(values), 4) if values else 0.0


def _by_lang(test: list[Example], truth: list[str], predicted: list[str], labels: list[str]) -> dict[str, float]:
    by_lang: dict[str, float] = {}
    for lang in sorted({example.lang for example in test}):
        rows = [i for i, example in enumerate(test) if example.lang == lang]
        present = sorted({truth[i] for i in rows})
        by_lang[lang] = _macro([truth[i] for i in rows], [predicted[i] for i in rows], present)
    return by_lang


def render(figures: dict[str, Any]) -> str:
    """The human-readable report."""
    lines = [
        f"model {figures['model_version']}  taxonomy {figures['taxonomy_version']}  "
        f"guardrails {figures['guardrails_version']}",
        f"test split: {figures['test_examples']} messages {figures['test_by_lang']}",
    ]
    if figures["issue_types_missing_from_test"]:
        lines.append(f"WARNING: issue types absent from the test split: {figures['issue_types_missing_from_test']}")
    lines += ["", f"{'issue type':<20}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}"]
    for label, row in figures["per_class"].items():
        lines.append(f"{label:<20}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['f1']:>10.3f}{row['support']:>9}")
    lines.append("")
    for name, target in figures["targets"].items():
        verdict = "ok" if target["met"] else "BELOW TARGET"
        lines.append(f"{name:<22}{figures[name]:.4f}  (target >= {target['target']})  {verdict}")
    lines += [
        f"{'priority_macro_f1':<22}{figures['priority_macro_f1']:.4f}",
        f"{'p1_precision':<22}{figures['p1_precision']:.4f}",
        f"model alone (no guardrails): issue-type macro-F1 {figures['issue_type_macro_f1_model_only']:.4f}, "
        f"P1 recall {figures['p1_recall_model_only']:.4f}",
        f"promotions to P1 (p1-share or guardrail): {figures['promotions']} "
        f"({figures['promotions_to_the_labelled_type']} to the labelled type)",
        f"p1 threshold: {figures['p1_threshold']}",
        f"needs_review share: {figures['needs_review_share']:.4f}",
        f"sentiment macro-F1: {figures['sentiment_macro_f1']:.4f}",
        f"issue-type macro-F1 by language: {figures['issue_type_macro_f1_by_lang']}",
        "",
        "confusion matrix (rows: labelled, columns: predicted)",
    ]
    labels = figures["confusion_matrix"]["labels"]
    short = [label[:6] for label in labels]
    lines.append(" " * 20 + "".join(f"{s:>7}" for s in short))
    for label, row in zip(labels, figures["confusion_matrix"]["rows_true_columns_predicted"], strict=True):
        lines.append(f"{label:<20}" + "".join(f"{value:>7}" for value in row))
    lines += ["", "guardrail rules on the train split (fires / label agrees / label differs)"]
    for rule, counts in figures["guardrail_review_on_train"].items():
        fires, agrees, differs = counts.get("fires", 0), counts.get("label_agrees", 0), counts.get("label_differs", 0)
        lines.append(f"  {rule:<24}{fires:>6}{agrees:>6}{differs:>6}")
    if "p1_stress" in figures:
        lines += ["", *_render_stress(figures["p1_stress"])]
    if "corrections" in figures:
        lines += ["", *_render_corrections(figures["corrections"])]
    return "\n".join(lines) + "\n"


def _render_corrections(section: dict[str, Any]) -> list[str]:
    split = section["test_split"]
    lines = [
        f"corrections (train only): {section['used']} used from {len(section['files'])} file(s), "
        f"{len(section['not_used'])} not used; test split {split['examples']} messages, digest {split['digest']}, "
        f"{section['corrections_in_test_split']} corrections in it",
    ]
    if section["note"]:
        lines.append(f"  {section['note']}")
    lines += [f"  not used: {note}" for note in section["not_used"]]
    rows = [name for name in ("without", "with") if name in section]
    if not rows or not section["used"]:
        return lines
    lines.append(f"  {'':<28}" + "".join(f"{name + ' corrections':>27}" for name in rows))
    lines.append(f"  {'model':<28}" + "".join(f"{section[name]['model_version']:>27}" for name in rows))
    for figure in (*COMPARED, "p1_stress_recall", "p1_stress_false_alarm_rate"):
        if all(figure in section[name] for name in rows):
            lines.append(f"  {figure:<28}" + "".join(f"{section[name][figure]:>27.4f}" for name in rows))
    right = [f"{section[name]['corrected_examples_right']} of {section['used']}" for name in rows]
    lines.append(f"  {'corrected examples right':<28}" + "".join(f"{cell:>27}" for cell in right))
    return lines


def _render_stress(stress: dict[str, Any]) -> list[str]:
    targets = stress["targets"]
    recall_verdict = "ok" if targets["p1_recall"]["met"] else "BELOW TARGET"
    explicit_verdict = "ok" if targets["explicit_caught"]["met"] else "MISSED"
    lines = [
        f"P1 stress set (data/p1-stress, never trained on): {stress['messages']} messages {stress['by_lang']}, "
        f"{stress['p1_messages']} P1 and {stress['look_alikes']} look-alikes",
        f"{'p1_stress_recall':<22}{stress['p1_recall']:.4f}  (target >= {targets['p1_recall']['target']})  "
        f"{recall_verdict}",
        f"{'explicit caught':<22}{stress['explicit_caught']} of {stress['explicit_statements']} "
        f"self-harm or violence statements  {explicit_verdict}",
        f"{'false_alarm_rate':<22}{stress['false_alarm_rate']:.4f}  ({len(stress['false_alarms'])} of "
        f"{stress['look_alikes']} look-alikes answered P1)",
        f"guardrails alone: P1 recall {stress['p1_recall_guardrails_alone']:.4f}; "
        f"issue type as expected on P1: {stress['issue_type_accuracy_on_p1']:.4f}",
        f"P1 recall by kind: {stress['p1_recall_by_kind']}",
        f"P1 recall by language: {stress['p1_recall_by_lang']}",
    ]
    for title, rows in (("missed", stress["missed"]), ("false alarms", stress["false_alarms"])):
        lines.append(f"{title}: {len(rows) or 'none'}")
        lines += [
            f"  {r['id']:<13} {r['kind']:<15} expected {r['expected']}, "
            f"answered {r['predicted']} ({r['confidence']:.2f})"
            for r in rows
        ]
    return lines


def write_report(figures: dict[str, Any], report_dir: Path) -> tuple[Path, Path]:
    report_dir.mkdir(parents=True, exist_ok=True)
    text_path = report_dir / "classifier-evaluation.txt"
    json_path = report_dir / "classifier-evaluation.json"
    text_path.write_text(render(figures), encoding="utf-8")
    json_path.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return text_path, json_path
