"""``triage-classifier``: run the service, or use its logic offline."""

import argparse
import itertools
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from pydantic import ValidationError

from triage_classifier.classify import Classifier
from triage_classifier.config import ClassifierSettings
from triage_classifier.corpus import load_corpus
from triage_classifier.guardrails import GuardrailError
from triage_classifier.model import CURRENT_FILE, ModelUnavailable, artifact_path
from triage_classifier.records_io import classify_messages, message_from_shorthand
from triage_classifier.taxonomy import TaxonomyError
from triage_runtime.jsonlines import (
    Line,
    LineError,
    LineReport,
    Source,
    exit_status,
    read_json_lines,
    record_type_error,
    validation_summary,
)
from triage_schemas.records import RECORD_MODELS, ClassifiedMessage, SocialMessage

if TYPE_CHECKING:
    from triage_classifier.training import TrainingConfig

CHUNK_LINES = 256
COMMAND = "triage-classifier classify"
PASSING_THROUGH = frozenset(RECORD_MODELS) - {"message"}


def _pending_line(line: Line) -> SocialMessage | Line | LineError:
    """A message to classify, a record of another type to pass through unchanged, or why not."""
    data = line.value
    if isinstance(data, dict) and data.get("record_type") is None:
        try:
            return message_from_shorthand(data)
        except ValueError as error:
            return LineError(line.number, f"not a message record nor a text line: {error}")
    problem = record_type_error(data, ("message", *sorted(PASSING_THROUGH)))
    if problem is not None:
        return LineError(line.number, problem)
    if data["record_type"] != "message":
        return line
    try:
        return SocialMessage.model_validate(data)
    except ValidationError as error:
        return LineError(line.number, f"not a valid message: {validation_summary(error)}")


def _classified(
    classifier: Classifier, messages: list[tuple[int, SocialMessage]]
) -> dict[int, ClassifiedMessage | LineError]:
    """Each message's classification by line number; one message the model cannot take
    costs its own line, not the chunk's."""
    try:
        done = classify_messages([message for _, message in messages], classifier)
    except Exception:
        done = None  # retried one by one below, so the message the model cannot take is named
    if done is not None:
        return {number: record for (number, _), record in zip(messages, done, strict=True)}
    results: dict[int, ClassifiedMessage | LineError] = {}
    for number, message in messages:
        try:
            results[number] = classify_messages([message], classifier)[0]
        except Exception as error:
            results[number] = LineError(number, f"cannot classify this message ({type(error).__name__}: {error})")
    return results


def classify_lines(classifier: Classifier, source: Source, out: TextIO, err: TextIO) -> int:
    """Classify message lines in order, in chunks so the model works in batches;
    returns the number of rejected lines."""
    report = LineReport(out, err)
    lines = read_json_lines(source)
    while chunk := list(itertools.islice(lines, CHUNK_LINES)):
        pending: list[tuple[int, SocialMessage | Line]] = []
        for line in chunk:
            item = line if isinstance(line, LineError) else _pending_line(line)
            if isinstance(item, LineError):
                report.reject(item)
            else:
                pending.append((line.number, item))
        messages = [(number, item) for number, item in pending if isinstance(item, SocialMessage)]
        classified = _classified(classifier, messages) if messages else {}
        for number, item in pending:
            if isinstance(item, Line):
                report.pass_through(item)
                continue
            record = classified[number]
            if isinstance(record, LineError):
                report.reject(record)
            else:
                report.write(number, [record])
        report.flush()
    return report.rejected


def train_command(settings: ClassifierSettings, if_missing: bool, config: "TrainingConfig") -> int:
    from triage_classifier.training import expected_version, train

    corpus = load_corpus(settings.corpus_dir)
    for problem in corpus.problems:
        print(f"corpus: {problem}", file=sys.stderr)
    if not corpus.examples:
        print(f"no labelled examples in {settings.corpus_dir}", file=sys.stderr)
        return 1
    version = expected_version(corpus, config)
    if if_missing and artifact_path(settings.model_dir, version).exists():
        # Point CURRENT at it in case another version was trained since.
        (settings.model_dir / CURRENT_FILE).write_text(version + "\n", encoding="utf-8")
        print(f"model {version} is up to date ({settings.model_dir / version})")
        return 0
    print(f"training on {len(corpus.split('train'))} of {len(corpus.examples)} examples ({len(corpus.files)} files)")
    model = train(corpus, config)
    target = model.save(settings.model_dir)
    cv = model.metadata["issue_type_cv"]
    print(f"model {model.version} written to {target}")
    if "best_macro_f1" in cv:
        print(f"cross-validated issue-type macro-F1 on train: {cv['best_macro_f1']} (C={cv['best_C']})")
    return 0


def evaluate_command(settings: ClassifierSettings, report_dir: Path) -> int:
    from triage_classifier.evaluation import evaluate, render, write_report
    from triage_classifier.loader import load_classifier

    classifier = load_classifier(settings)
    figures = evaluate(classifier, load_corpus(settings.corpus_dir))
    print(render(figures), end="")
    text_path, json_path = write_report(figures, report_dir)
    print(f"report written to {text_path} and {json_path}")
    return 0


def _bench(settings: ClassifierSettings, count: int, batch_size: int, single_count: int) -> int:
    from triage_classifier.bench import measure
    from triage_classifier.loader import load_classifier

    classifier = load_classifier(settings)
    texts = [example.text for example in load_corpus(settings.corpus_dir).examples]
    if not texts:
        print(f"no corpus texts in {settings.corpus_dir} to benchmark with", file=sys.stderr)
        return 1
    repeated = list(itertools.islice(itertools.cycle(texts), count))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"model {classifier.version}, {len(repeated)} corpus messages, {cores} core(s) available to this process")
    for figure in measure(classifier, repeated, batch_size, single_count):
        print(f"{figure.mode:<16}{figure.per_second:>12,.0f} messages/s  ({figure.messages} in {figure.seconds:.2f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="triage-classifier", description="social-triage classifier service")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="consume from Kafka and serve /metrics, /healthz, /readyz")
    sub.add_parser("classify", help="classify message JSON lines (or bare {'text': ...} lines) from stdin to stdout")
    train_cmd = sub.add_parser("train", help="train from the corpus and write a versioned model artifact")
    train_cmd.add_argument("--if-missing", action="store_true", help="only when no artifact exists for this corpus")
    train_cmd.add_argument("--jobs", type=int, default=1, help="parallel cross-validation workers")
    evaluate_cmd = sub.add_parser("evaluate", help="figures of the current model on the test split")
    evaluate_cmd.add_argument("--report-dir", type=Path, default=Path("reports"))
    bench_cmd = sub.add_parser("bench", help="messages per second, single versus batched")
    bench_cmd.add_argument("--count", type=int, default=50_000, help="messages classified in batches")
    bench_cmd.add_argument("--batch-size", type=int, default=500)
    bench_cmd.add_argument("--single", type=int, default=2_000, help="messages classified one at a time")
    args = parser.parse_args(argv)
    settings = ClassifierSettings()
    try:
        if args.command == "serve":
            from triage_classifier.app import build

            return build(settings).run()
        if args.command == "classify":
            from triage_classifier.loader import load_classifier

            rejected = classify_lines(load_classifier(settings), sys.stdin, sys.stdout, sys.stderr)
            return exit_status(COMMAND, rejected, sys.stderr)
        if args.command == "train":
            from triage_classifier.training import TrainingConfig

            return train_command(settings, args.if_missing, TrainingConfig(jobs=args.jobs))
        if args.command == "evaluate":
            return evaluate_command(settings, args.report_dir)
        if args.command == "bench":
            return _bench(settings, args.count, args.batch_size, args.single)
    except (ModelUnavailable, TaxonomyError, GuardrailError) as error:
        print(f"triage-classifier: {error}", file=sys.stderr)
        return 1
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
