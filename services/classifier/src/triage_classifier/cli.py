"""``triage-classifier``: run the service, or use its logic offline."""

import argparse
import asyncio
import itertools
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pydantic import ValidationError

from triage_classifier.classify import Classifier
from triage_classifier.config import ClassifierSettings
from triage_classifier.corpus import DEFAULT_CORRECTIONS_DIR, Corpus, load_corpus
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
    from triage_classifier.corrections import Entry
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


def _training_corpus(settings: ClassifierSettings, corrections_dir: Path | None) -> Corpus:
    """The corpus, plus the corrections of ``corrections_dir`` (None: none); every
    problem and every correction not used is printed."""
    from triage_classifier.corrections import load_training_corpus

    corpus = load_training_corpus(settings.corpus_dir, corrections_dir)
    for problem in corpus.problems:
        print(f"corpus: {problem}", file=sys.stderr)
    for note in corpus.correction_notes:
        print(f"corrections: {note}", file=sys.stderr)
    return corpus


def train_command(
    settings: ClassifierSettings,
    if_missing: bool,
    config: "TrainingConfig",
    corrections_dir: Path | None = None,
) -> int:
    """Train from the corpus plus the corrections in ``corrections_dir`` (None: the corpus alone)."""
    from triage_classifier.training import expected_version, train

    corpus = _training_corpus(settings, corrections_dir)
    if not corpus.examples:
        print(f"no labelled examples in {settings.corpus_dir}", file=sys.stderr)
        return 1
    version = expected_version(corpus, config)
    if if_missing and artifact_path(settings.model_dir, version).exists():
        # Point CURRENT at it in case another version was trained since.
        (settings.model_dir / CURRENT_FILE).write_text(version + "\n", encoding="utf-8")
        print(f"model {version} is up to date ({settings.model_dir / version})")
        return 0
    corrections = (
        f" and {len(corpus.corrections)} corrections ({len(corpus.correction_files)} files)"
        if corpus.correction_files
        else ""
    )
    print(
        f"training on {len(corpus.split('train')) - len(corpus.corrections)} of {len(corpus.examples)} examples "
        f"({len(corpus.files)} files){corrections}"
    )
    model = train(corpus, config)
    target = model.save(settings.model_dir)
    cv = model.metadata["issue_type_cv"]
    print(f"model {model.version} written to {target}")
    if "best_macro_f1" in cv:
        print(f"cross-validated issue-type macro-F1 on train: {cv['best_macro_f1']} (C={cv['best_C']})")
    return 0


def _baseline(settings: ClassifierSettings, corpus: Corpus, config: "TrainingConfig") -> Classifier:
    """The model of the same corpus and recipe without the corrections: the stored
    artifact, or trained now (kept next to the others; CURRENT is left alone)."""
    from triage_classifier.loader import load_classifier
    from triage_classifier.training import expected_version, train

    bare = corpus.without_corrections()
    version = expected_version(bare, config)
    if not artifact_path(settings.model_dir, version).exists():
        print(f"training the model without corrections ({version}) to compare with", file=sys.stderr)
        train(bare, config).save(settings.model_dir, make_current=False)
    return load_classifier(settings.model_copy(update={"model_version": version}))


def evaluate_command(
    settings: ClassifierSettings,
    report_dir: Path,
    corrections_dir: Path | None = None,
    config: "TrainingConfig | None" = None,
) -> int:
    """Figures of the current model on the test split; with ``corrections_dir``, the same
    figures for the model trained without the corrections too, on the same test split."""
    from triage_classifier.evaluation import evaluate, render, write_report
    from triage_classifier.loader import load_classifier
    from triage_classifier.training import TrainingConfig

    config = config or TrainingConfig()
    classifier = load_classifier(settings)
    corpus = _training_corpus(settings, corrections_dir) if corrections_dir else load_corpus(settings.corpus_dir)
    figures = evaluate(classifier, corpus)
    if corrections_dir is not None:
        figures["corrections"] = _corrections_section(settings, corpus, config, classifier, figures)
    print(render(figures), end="")
    text_path, json_path = write_report(figures, report_dir)
    print(f"report written to {text_path} and {json_path}")
    return 0


def _corrections_section(
    settings: ClassifierSettings,
    corpus: Corpus,
    config: "TrainingConfig",
    classifier: Classifier,
    figures: dict[str, Any],
) -> dict[str, Any]:
    from triage_classifier.evaluation import corrections_figures, evaluate
    from triage_classifier.training import expected_version

    trained_with = int(classifier.model.metadata.get("train_corrections", 0))
    if not corpus.corrections or trained_with == 0:
        why = (
            "no corrections in use: the figures above are the corpus's alone"
            if not corpus.corrections
            else f"model {classifier.version} was trained without the {len(corpus.corrections)} corrections; "
            "run `make model` to train with them"
        )
        return corrections_figures(corpus, None, (classifier, figures), why)
    note: str | None = None
    if classifier.version != expected_version(corpus, config):
        note = (
            f"model {classifier.version} is not the one for this corpus, these corrections and this recipe "
            "(run `make model`); it is compared as it is"
        )
    baseline = _baseline(settings, corpus, config)
    return corrections_figures(corpus, (classifier, figures), (baseline, evaluate(baseline, corpus)), note)


EXPORT = "triage-classifier corrections export"


def _entries_from_topic(topic: str, keep: Any = None) -> "list[Entry]":
    from triage_classifier.corrections import topic_entries

    return asyncio.run(topic_entries(topic, keep))


def corrections_export_command(
    *,
    events: Path | None,
    messages: Path | None,
    from_topic: bool,
    out: Path,
    since: datetime | None = None,
    force: bool = False,
    corpus_dir: Path,
    corrections_dir: Path = DEFAULT_CORRECTIONS_DIR,
    messages_topic: str | None = None,
    out_stream: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Corrections (a file of conversation events, or the topic) joined with their
    messages (a file of message or classified records, or the topic) into corpus lines
    at ``out``. Every line that cannot be used is reported (``<where>: <why>``) and
    counted, and so is every correction left out; exit 1 when any line was bad."""
    from triage_classifier.corpus import corpus_files
    from triage_classifier.corrections import (
        export_corrections,
        file_entries,
        read_correction_files,
        read_corrections,
        read_messages,
        wanted_message,
        write_lines,
    )
    from triage_runtime.topics import TopicSettings

    out_stream = out_stream or sys.stdout
    err = err or sys.stderr
    if events is None and not from_topic:
        err.write(f"{EXPORT}: give --events FILE, or --from-topic to read the conversation events topic\n")
        return 2
    if messages is None and not from_topic:
        err.write(f"{EXPORT}: give --messages FILE, or --from-topic to read the messages from their topic\n")
        return 2
    if out.exists() and not force:
        err.write(f"{EXPORT}: {out} exists; choose another --out, or --force to replace it\n")
        return 2
    topics = TopicSettings()
    topic = topics.conversation_events
    try:
        event_entries = list(file_entries(events)) if events is not None else _entries_from_topic(topic)
        read = read_corrections(event_entries)
        wanted = {corrected.correction.message_id for corrected in read.corrections}
        topic = messages_topic or topics.classified
        message_entries = (
            list(file_entries(messages))
            if messages is not None
            else _entries_from_topic(topic, lambda value: wanted_message(value, wanted))
            if wanted
            else []
        )
    except OSError as error:
        err.write(f"{EXPORT}: cannot read {error.filename}: {error.strerror}\n")
        return 1
    except Exception as error:  # the broker: unreachable, refused, no such topic
        err.write(f"{EXPORT}: cannot read topic {topic}: {type(error).__name__}: {error}\n")
        return 1
    found = read_messages(message_entries, wanted)
    committed = corpus_files(corrections_dir) if corrections_dir.is_dir() else []
    exported, _ = read_correction_files([path for path in committed if path.resolve() != out.resolve()])
    corpus = load_corpus(corpus_dir)
    result = export_corrections(read.corrections, found.messages, corpus, since=since, exported=exported)
    problems = [*read.problems, *found.problems]
    for problem in problems:
        err.write(f"{problem}\n")
    for note in result.left_out:
        err.write(f"left out: {note}\n")
    for note in result.not_learned:
        err.write(f"not learned: {note}\n")
    if result.lines:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(write_lines(result.lines), encoding="utf-8")
    counts = result.counts
    reasons = sorted(kind for kind in counts if kind not in ("joined", "exported"))
    left_out = ", ".join(f"{counts[kind]} {kind.replace('_', ' ')}" for kind in reasons) or "none"
    out_stream.write(
        f"{len(read.corrections)} corrections read ({read.other_events} other conversation events), "
        f"{counts['joined']} joined with their message; left out: {left_out}\n"
    )
    if result.lines:
        out_stream.write(f"{counts['exported']} corpus lines written to {out}: review them before committing\n")
    else:
        out_stream.write("no corpus lines to write; nothing written\n")
    if problems:
        plural = "line or record was" if len(problems) == 1 else "lines or records were"
        err.write(f"{EXPORT}: {len(problems)} {plural} rejected (see the messages above)\n")
        return 1
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


def _since(text: str) -> datetime:
    from triage_classifier.corrections import parse_since

    try:
        return parse_since(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a day (YYYY-MM-DD) nor an ISO timestamp") from None


def _corrections_options(command: argparse.ArgumentParser, exclusive: bool = True) -> None:
    command.add_argument(
        "--corrections-dir",
        type=Path,
        help="reviewed corrections (*.jsonl), train-only (default: the corrections directory next to the corpus "
        "directory, services/classifier/data/corrections)",
    )
    if exclusive:
        command.add_argument("--no-corrections", action="store_true", help="the corpus alone")


def corrections_dir_of(settings: ClassifierSettings, args: argparse.Namespace) -> Path | None:
    """``--corrections-dir``, or ``corrections/`` next to the corpus directory (so an image
    that trains from a copied corpus, TRIAGE_CLASSIFIER_CORPUS_DIR, finds its corrections
    too); None with ``--no-corrections``."""
    if getattr(args, "no_corrections", False):
        return None
    chosen: Path | None = args.corrections_dir
    return chosen if chosen is not None else settings.corpus_dir.parent / DEFAULT_CORRECTIONS_DIR.name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="triage-classifier", description="social-triage classifier service")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="consume from Kafka and serve /metrics, /healthz, /readyz")
    sub.add_parser("classify", help="classify message JSON lines (or bare {'text': ...} lines) from stdin to stdout")
    train_cmd = sub.add_parser("train", help="train from the corpus and write a versioned model artifact")
    train_cmd.add_argument("--if-missing", action="store_true", help="only when no artifact exists for this corpus")
    train_cmd.add_argument("--jobs", type=int, default=1, help="parallel cross-validation workers")
    _corrections_options(train_cmd)
    evaluate_cmd = sub.add_parser(
        "evaluate", help="figures of the current model on the test split, and of the model without corrections"
    )
    evaluate_cmd.add_argument("--report-dir", type=Path, default=Path("reports"))
    evaluate_cmd.add_argument(
        "--jobs", type=int, default=1, help="parallel workers when the model without corrections must be trained"
    )
    _corrections_options(evaluate_cmd)
    corrections_cmd = sub.add_parser("corrections", help="learning from people's corrections")
    corrections_sub = corrections_cmd.add_subparsers(dest="corrections_command", required=True)
    export_cmd = corrections_sub.add_parser(
        "export",
        help="corrections joined with their messages, as corpus lines to review and commit under data/corrections/",
    )
    export_cmd.add_argument("--events", type=Path, help="JSON lines of conversation_event records")
    export_cmd.add_argument("--messages", type=Path, help="JSON lines of message or classified records")
    export_cmd.add_argument(
        "--from-topic",
        action="store_true",
        help="read what is not given as a file from Kafka, from the beginning and outside any consumer group "
        "(TRIAGE_KAFKA_*, TRIAGE_TOPIC_*): the conversation events, and the messages from social.classified",
    )
    export_cmd.add_argument("--messages-topic", help="read the messages from this topic instead (e.g. social.messages)")
    export_cmd.add_argument(
        "--since", type=_since, help="only corrections made since this day (YYYY-MM-DD, UTC) or ISO timestamp"
    )
    export_cmd.add_argument(
        "--out", type=Path, help="where to write (default: services/classifier/data/corrections/<today>.jsonl)"
    )
    export_cmd.add_argument("--force", action="store_true", help="replace --out when it exists")
    # Lines already committed there with the same labels are not exported again.
    _corrections_options(export_cmd, exclusive=False)
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

            config = TrainingConfig(jobs=args.jobs)
            return train_command(settings, args.if_missing, config, corrections_dir_of(settings, args))
        if args.command == "evaluate":
            from triage_classifier.training import TrainingConfig

            config = TrainingConfig(jobs=args.jobs)
            return evaluate_command(settings, args.report_dir, corrections_dir_of(settings, args), config)
        if args.command == "corrections":
            committed = corrections_dir_of(settings, args)
            assert committed is not None  # export has no --no-corrections
            today = datetime.now(UTC).date().isoformat()
            return corrections_export_command(
                events=args.events,
                messages=args.messages,
                from_topic=args.from_topic,
                out=args.out or committed / f"{today}.jsonl",
                since=args.since,
                force=args.force,
                corpus_dir=settings.corpus_dir,
                corrections_dir=committed,
                messages_topic=args.messages_topic,
            )
        if args.command == "bench":
            return _bench(settings, args.count, args.batch_size, args.single)
    except (ModelUnavailable, TaxonomyError, GuardrailError) as error:
        print(f"triage-classifier: {error}", file=sys.stderr)
        return 1
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
