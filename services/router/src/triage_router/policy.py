"""The routing policy: one YAML file a care lead edits, validated before use.

Everything the router decides comes from here (teams, specialist owners, reply
modes, templates, escalation triggers, SLA targets), so changing a decision means
editing the file, never the code. ``sla:`` is the shared ``SlaPolicy`` because the
SLA monitor's replay reads the same file.
"""

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, Self, cast

import re2
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from triage_runtime.text import fold
from triage_schemas.business_time import Calendar
from triage_schemas.enums import AssignStrategy, Channel, IssueType, Lane, Priority, ReplyMode, Tier
from triage_schemas.policy import CalendarSpec, SlaPolicy

DEFAULT_POLICY = Path(__file__).parent / "policies" / "default.yaml"
DEMO_POLICY = Path(__file__).parent / "policies" / "demo.yaml"


class PolicyError(Exception):
    """A policy that cannot be used; ``errors`` holds one ``path: problem`` line each."""

    def __init__(self, source: str, errors: list[str]) -> None:
        super().__init__(f"{source}: invalid routing policy\n" + "\n".join(f"  {e}" for e in errors))
        self.source = source
        self.errors = errors


_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """The text's words, folded (case and accents ignored) as ``triage_runtime.text.fold`` does."""
    return _WORD.findall(fold(text))


def keyword_tokens(keyword: str) -> tuple[tuple[str, ...], bool]:
    """A keyword's words, and whether its last word is a prefix ('refund*')."""
    prefix = keyword.rstrip().endswith("*")
    return tuple(words(keyword.replace("*", " "))), prefix


def scanned_words(text: str) -> bytes:
    """The text as the keyword scan reads it: its folded words, one space around each, in
    UTF-8. Folding and splitting happen once per message, whatever the number of triggers."""
    return f" {' '.join(words(text))} ".encode()


class _Regexp(Protocol):
    """The part of a compiled RE2 pattern used here (re2 ships no type hints)."""

    def search(self, text: bytes) -> Any: ...


class KeywordSet:
    """A trigger's keywords compiled once into one RE2 alternation.

    A keyword matches where its words are whole consecutive words of the text, whatever
    separates them ("charge back" matches "charge-back"); the last word of 'refund*' may
    go on ("refunds"). On ``scanned_words`` that is a plain substring (" charge back ",
    " refund"), and RE2 finds any of them in one scan, in time linear in the text.
    """

    def __init__(self, keywords: Sequence[str]) -> None:
        self.keywords = tuple(keywords)
        self._needles: list[tuple[int, bytes]] = []
        for index, keyword in enumerate(self.keywords):
            phrase, prefix = keyword_tokens(keyword)
            if phrase:
                self._needles.append((index, f" {' '.join(phrase)}{'' if prefix else ' '}".encode()))
        options = re2.Options()
        options.log_errors = False
        # One group per keyword tells which one occurs first in the text.
        alternation = b"|".join(b"(" + re2.escape(needle) + b")" for _, needle in self._needles)
        self._any = cast(_Regexp, re2.compile(alternation, options)) if self._needles else None

    def first(self, scanned: bytes) -> str | None:
        """The first keyword, in the policy's order, found in ``scanned`` (``scanned_words``)."""
        if self._any is None:
            return None
        found = self._any.search(scanned)
        if found is None:
            return None
        position: int = found.lastindex - 1
        # The scan found the keyword that occurs first in the text; one listed before it
        # may still occur further on, and the policy's order decides which is reported.
        for index, needle in self._needles[:position]:
            if needle in scanned:
                return self.keywords[index]
        return self.keywords[self._needles[position][0]]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Team(Strict):
    members: list[str] = Field(default_factory=list, description="owners that belong to the team")
    calendar: str | None = Field(default=None, description="the team's open hours (under calendars); none = 24/7")
    strategy: AssignStrategy = Field(
        default=AssignStrategy.LEAST_LOADED, description="how the team's conversations are spread over its agents"
    )
    lead: str | None = Field(
        default=None, description="the team's lead (one of its members): reviews its lanes' uncertain messages"
    )


class AssignmentRules(Strict):
    """How conversations are given to agents (used when a roster is published)."""

    sticky_days: float = Field(
        default=7, ge=0, description="a customer who returns within this many days goes back to their last agent"
    )
    reassign_priorities: list[Priority] = Field(
        default_factory=lambda: [Priority.P1, Priority.P2],
        description="an agent going offline or away hands these conversations back to assignment",
    )
    correction_seconds: float = Field(
        default=60,
        gt=0,
        description="an agent over capacity gives back assignments this recent (two replicas picked them at once)",
    )


class LaneRule(Strict):
    team: str
    review_owner: str | None = Field(
        default=None,
        description="who checks the lane's uncertain classifications (needs_review); null = the team's lead, "
        "or the team itself without one",
    )


class IssueTypeRule(Strict):
    lane: Lane | None = Field(default=None, description="the issue type's lane, for a correction that names none")
    priority: Priority | None = Field(default=None, description="its priority, for a correction that names none")
    specialist: str | None = Field(default=None, description="specialist owner; null = the lane's team")
    reply_mode: ReplyMode
    template: str | None = None
    internal_alert: bool = False
    escalate: bool = Field(default=True, description="false = triggers never fire (spam)")


class Conditions(Strict):
    """Every condition given must hold; a list matches any of its items."""

    lanes: list[Lane] | None = None
    priorities: list[Priority] | None = None
    issue_types: list[IssueType] | None = None
    channels: list[Channel] | None = None
    min_followers: int | None = Field(default=None, ge=0)
    large_audience: bool | None = Field(default=None, description="author has at least large_audience_followers")
    signals: list[str] | None = Field(default=None, description="classifier reasons or PII kinds, any of them")
    keywords: list[str] | None = Field(default=None, description="words or phrases, any language; 'word*' = prefix")
    _keyword_set: KeywordSet | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _compile_keywords(self) -> Self:
        # Compiled when the policy loads, so a set RE2 cannot hold is refused then.
        if self.keywords is not None:
            try:
                self._keyword_set = KeywordSet(self.keywords)
            except re2.error as error:
                reason = error.args[0] if error.args else error
                if isinstance(reason, bytes):
                    reason = reason.decode("utf-8", "replace")
                raise ValueError(f"keywords: RE2 cannot compile them ({reason})") from None
        return self

    @property
    def keyword_set(self) -> KeywordSet | None:
        if self.keywords is None:
            return None
        # Read the private slot directly: attribute access to a private attribute goes
        # through pydantic's __getattr__, which cost more than the keyword match itself.
        private = self.__pydantic_private__
        compiled = private.get("_keyword_set") if private is not None else None
        # model_copy(update=...) skips validation: recompile for keywords set that way.
        if compiled is None or compiled.keywords != tuple(self.keywords):
            compiled = self._keyword_set = KeywordSet(self.keywords)
        return compiled


class Trigger(Strict):
    id: str = Field(min_length=1)
    tier: Tier
    when: Conditions
    owner: str | None = Field(default=None, description="who takes it; null keeps the owner")
    reason: str | None = None


class RoutingPolicy(Strict):
    version: str = Field(min_length=1)
    calendars: dict[str, CalendarSpec] = Field(default_factory=dict, description="open hours teams refer to")
    lanes: dict[Lane, LaneRule]
    teams: dict[str, Team]
    issue_types: dict[IssueType, IssueTypeRule]
    templates: dict[str, str] = Field(default_factory=dict, description="template id -> what it is for")
    triggers: list[Trigger] = Field(default_factory=list)
    large_audience_followers: int = Field(default=100_000, ge=0)
    public_channels: list[Channel] = Field(default_factory=lambda: [Channel.PUBLIC_COMMENT, Channel.MENTION])
    pii_in_public_switches_to_dm: bool = True
    keyword_scan_chars: int = Field(default=20_000, ge=1, description="only this much text is scanned")
    assignment: AssignmentRules = Field(default_factory=AssignmentRules)
    sla: SlaPolicy
    _calendars: dict[str, Calendar] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _build_calendars(self) -> Self:
        errors = []
        for name, spec in self.calendars.items():
            try:
                self._calendars[name] = spec.build(name)
            except ValueError as error:
                errors.append(f"calendars.{name}: {error}")
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def calendar_of(self, team: str, priority: Priority) -> Calendar | None:
        """The calendar the team's targets count on; None (wall time) for around-the-clock priorities."""
        name = self.teams[team].calendar if team in self.teams else None
        if name is None or self.sla.counts_wall_time(priority):
            return None
        return self._calendars.get(name)

    def reviewer_of(self, lane: Lane) -> str:
        """Who checks the lane's uncertain classifications: its review owner, else its team's lead."""
        rule = self.lanes[lane]
        return rule.review_owner or self.teams[rule.team].lead or rule.team

    def team_of(self, owner: str) -> str:
        for name, team in self.teams.items():
            if owner == name or owner in team.members:
                return name
        raise KeyError(owner)


def _path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _describe(loc: tuple[int | str, ...], msg: str) -> str:
    # pydantic marks a bad mapping key with a "[key]" step; a lead reads "unknown name".
    if loc and loc[-1] == "[key]":
        return f"{_path(loc[:-1])}: unknown name; {msg}"
    return f"{_path(loc)}: {msg}"


def _cross_checks(policy: RoutingPolicy) -> list[str]:
    """What pydantic cannot see: references between sections."""
    errors: list[str] = []
    known = set(policy.teams) | {m for team in policy.teams.values() for m in team.members}
    for name, team in policy.teams.items():
        if team.calendar is not None and team.calendar not in policy.calendars:
            errors.append(f"teams.{name}.calendar: '{team.calendar}' is not a calendar defined under calendars")
    for lane in Lane:
        if lane not in policy.lanes:
            errors.append(f"lanes.{lane}: missing; every lane needs a team")
        elif policy.lanes[lane].team not in policy.teams:
            errors.append(f"lanes.{lane}.team: '{policy.lanes[lane].team}' is not a team defined under teams")
        elif (reviewer := policy.lanes[lane].review_owner) is not None and reviewer not in known:
            errors.append(f"lanes.{lane}.review_owner: '{reviewer}' is not defined by any team")
    for name, team in policy.teams.items():
        if team.lead is not None and team.lead not in team.members:
            errors.append(f"teams.{name}.lead: '{team.lead}' is not one of the team's members")
    for issue_type in IssueType:
        rule = policy.issue_types.get(issue_type)
        if rule is None:
            errors.append(f"issue_types.{issue_type}: missing; every issue type needs a reply mode")
            continue
        if rule.specialist is not None and rule.specialist not in known:
            errors.append(f"issue_types.{issue_type}.specialist: '{rule.specialist}' is not defined by any team")
        if rule.template is not None and rule.template not in policy.templates:
            errors.append(f"issue_types.{issue_type}.template: '{rule.template}' is not under templates")
    for index, campaign in enumerate(policy.sla.campaigns):
        if campaign.template is not None and campaign.template not in policy.templates:
            errors.append(f"sla.campaigns.{index}.template: '{campaign.template}' is not under templates")
    seen: set[str] = set()
    for index, trigger in enumerate(policy.triggers):
        if trigger.id in seen:
            errors.append(f"triggers.{index}.id: '{trigger.id}' is used twice")
        seen.add(trigger.id)
        if trigger.owner is not None and trigger.owner not in known:
            errors.append(f"triggers.{index}.owner: '{trigger.owner}' is not defined by any team")
        if trigger.when == Conditions():
            errors.append(f"triggers.{index}.when: no condition; it would fire on every message")
        for k, word in enumerate(trigger.when.keywords or []):
            if not word.strip("* "):
                errors.append(f"triggers.{index}.when.keywords.{k}: empty keyword")
        for k, signal in enumerate(trigger.when.signals or []):
            if not signal.strip():
                errors.append(f"triggers.{index}.when.signals.{k}: empty signal")
    return errors


def parse_policy(data: Any, source: str = "policy") -> RoutingPolicy:
    """Validate parsed YAML; raises PolicyError listing every problem with its path."""
    if not isinstance(data, dict):
        raise PolicyError(source, ["(top level): expected a mapping of sections (version, lanes, teams, ...)"])
    try:
        policy = RoutingPolicy.model_validate(data)
    except ValidationError as error:
        raise PolicyError(source, [_describe(e["loc"], e["msg"]) for e in error.errors()]) from None
    errors = _cross_checks(policy)
    if errors:
        raise PolicyError(source, errors)
    return policy


def load_policy(path: Path | str) -> RoutingPolicy:
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyError(source, [f"(file): cannot read: {error}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise PolicyError(source, [f"(yaml): {error}"]) from None
    return parse_policy(data, source)


__all__ = ["DEFAULT_POLICY", "DEMO_POLICY", "PolicyError", "RoutingPolicy", "load_policy", "parse_policy"]
