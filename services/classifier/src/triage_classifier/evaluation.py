"""Figures on the test split: what `make evaluate` prints and writes to the report."""

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from triage_classifier.classify import Classifier
from triage_classifier.corpus import Corpus, Example
from triage_schemas.enums import IssueType, Priority


@dataclass
class Targets:
    p1_recall: float = 0.97
    issue_type_macro_f1: float = 0.85
    lane_macro_f1: float = 0.90


def evaluate(classifier: Classifier, corpus: Corpus, targets: Targets | None = None) -> dict[str, Any]:
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
            [example.sentiment.value for example in test],
            [result.sentiment.label.value for result in results],
            sorted({example.sentiment.value for example in test}),
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
    return figures


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
    return "\n".join(lines) + "\n"


def write_report(figures: dict[str, Any], report_dir: Path) -> tuple[Path, Path]:
    report_dir.mkdir(parents=True, exist_ok=True)
    text_path = report_dir / "classifier-evaluation.txt"
    json_path = report_dir / "classifier-evaluation.json"
    text_path.write_text(render(figures), encoding="utf-8")
    json_path.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return text_path, json_path
