"""The reviewed pattern layer that keeps P1 recall up where the model is unsure.

Patterns run on RE2, whose matching time is linear in the text whatever the pattern, so
no message (and no pattern a reviewer writes) can stall the classifier; a pattern RE2
cannot compile (lookarounds, backreferences) is refused when the file loads.
"""

import bisect
import hashlib
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from triage_runtime.patterns import Pattern
from triage_runtime.patterns import compile_pattern as compile_shared
from triage_runtime.text import fold
from triage_schemas.enums import IssueType

DEFAULT_GUARDRAILS = Path(__file__).with_name("guardrails.yaml")


class GuardrailError(ValueError):
    """The guardrail file cannot be used; the message names the rule and the problem."""


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def fold_pattern(pattern: str) -> str:
    """A rule's pattern for the folded text it reads: its letters beyond ASCII folded as
    the text is ("sécurité" reads "securite", "straße" reads "strasse"). ASCII, the whole
    regular-expression syntax, is left as written: RE2 matches it ignoring case."""
    return _NON_ASCII.sub(lambda run: fold(run.group()), pattern)


def compile_pattern(pattern: str) -> Pattern:
    """A rule's pattern compiled for RE2, case-insensitive (rules read folded text);
    ValueError (PatternError) says what RE2 refused."""
    return compile_shared(pattern, ignore_case=True)


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    issue_type: IssueType
    triggers: list[str] = Field(min_length=1)
    patterns: list[str] = Field(min_length=1)


class _GuardrailFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str
    rules: list[_Rule]


@dataclass(frozen=True)
class Signal:
    rule_id: str
    issue_type: IssueType


@dataclass(frozen=True)
class _CompiledRule:
    id: str
    issue_type: IssueType
    triggers: tuple[str, ...]
    pattern: Pattern
    # The triggers as one alternation of literals: one linear scan finds them all.
    trigger_pattern: Pattern

    def fires(self, folded: str) -> bool:
        return any(trigger in folded for trigger in self.triggers) and self.pattern.search(folded) is not None


@dataclass(frozen=True)
class Guardrails:
    version: str
    rules: tuple[_CompiledRule, ...]
    digest: str

    def signals(self, text: str) -> list[Signal]:
        """Every rule that fires on ``text``, in file order, once each."""
        folded = fold(text)
        return [Signal(rule.id, rule.issue_type) for rule in self.rules if rule.fires(folded)]

    def signals_batch(self, texts: list[str]) -> list[list[Signal]]:
        """``signals`` for many texts at once, the same answers, much faster.

        Each rule's triggers are looked up with one RE2 scan over the whole batch
        instead of once per message and trigger; only messages holding a trigger get
        the rule's patterns.
        """
        folded = [fold(text) for text in texts]
        # NUL never occurs in a trigger, so no trigger match can span two messages; and
        # a message holding a trigger always yields a match, since the scan of the
        # message before it cannot run past the NUL.
        joined = "\0".join(folded)
        starts = list(itertools.accumulate((len(text) + 1 for text in folded), initial=0))
        found: list[list[Signal]] = [[] for _ in texts]
        for rule in self.rules:
            candidates = {
                bisect.bisect_right(starts, match.start()) - 1 for match in rule.trigger_pattern.finditer(joined)
            }
            for index in sorted(candidates):
                if rule.pattern.search(folded[index]):
                    found[index].append(Signal(rule.id, rule.issue_type))
        return found

    def untriggered_matches(self, text: str) -> list[str]:
        """Rules whose patterns match ``text`` although none of their triggers occur
        (a rule that would silently never fire there); empty when the file is consistent."""
        folded = fold(text)
        return [
            rule.id
            for rule in self.rules
            if rule.pattern.search(folded) and not any(trigger in folded for trigger in rule.triggers)
        ]


def load_guardrails(path: Path = DEFAULT_GUARDRAILS) -> Guardrails:
    try:
        content = path.read_text(encoding="utf-8")
        parsed = _GuardrailFile.model_validate(yaml.safe_load(content))
    except OSError as error:
        raise GuardrailError(f"{path}: cannot read: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise GuardrailError(f"{path}: not YAML: {error}") from None
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(file)'}: {e['msg']}" for e in error.errors())
        raise GuardrailError(f"{path}: {problems}") from None
    compiled: list[_CompiledRule] = []
    seen: set[str] = set()
    for rule in parsed.rules:
        if rule.id in seen:
            raise GuardrailError(f"{path}: rule id {rule.id} used twice")
        seen.add(rule.id)
        patterns = [fold_pattern(p) for p in rule.patterns]
        for index, pattern_text in enumerate(patterns):
            try:
                compile_pattern(pattern_text)
            except ValueError as error:
                raise GuardrailError(f"{path}: rule {rule.id}: bad pattern {index} {pattern_text!r}: {error}") from None
        try:
            # One alternation per rule: a single scan of the text per rule.
            pattern = compile_pattern("|".join(f"(?:{p})" for p in patterns))
        except ValueError as error:
            raise GuardrailError(f"{path}: rule {rule.id}: bad pattern: {error}") from None
        triggers = tuple(fold(trigger) for trigger in rule.triggers)
        # Literals, longest first; folded like the text, so matched case-sensitively.
        literals = "|".join(re.escape(trigger) for trigger in sorted(set(triggers), key=len, reverse=True))
        try:
            trigger_pattern = compile_shared(literals)
        except ValueError as error:
            raise GuardrailError(f"{path}: rule {rule.id}: bad triggers: {error}") from None
        compiled.append(_CompiledRule(rule.id, rule.issue_type, triggers, pattern, trigger_pattern))
    return Guardrails(parsed.version, tuple(compiled), hashlib.sha256(content.encode("utf-8")).hexdigest()[:16])
