"""Lane and priority follow from the issue type through a YAML table in configuration."""

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from triage_schemas.enums import IssueType, Lane, Priority

DEFAULT_TAXONOMY = Path(__file__).with_name("taxonomy.yaml")


class TaxonomyError(ValueError):
    """The taxonomy file cannot be used; the message names the file and the problem."""


class _Placement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lane: Lane
    priority: Priority


class _TaxonomyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str
    issue_types: dict[IssueType, _Placement]
    urgency: list[IssueType]

    @model_validator(mode="after")
    def _complete(self) -> "_TaxonomyFile":
        missing = set(IssueType) - set(self.issue_types)
        if missing:
            raise ValueError(f"issue_types lacks {sorted(missing)}")
        if sorted(self.urgency) != sorted(IssueType):
            raise ValueError("urgency must list every issue type exactly once")
        return self


@dataclass(frozen=True)
class Taxonomy:
    version: str
    lanes: dict[IssueType, Lane]
    priorities: dict[IssueType, Priority]
    urgency: tuple[IssueType, ...]

    def lane(self, issue_type: IssueType) -> Lane:
        return self.lanes[issue_type]

    def priority(self, issue_type: IssueType) -> Priority:
        return self.priorities[issue_type]

    def outranks(self, candidate: IssueType, current: IssueType) -> bool:
        """Whether ``candidate`` should replace ``current``: a higher priority, or the
        same priority and earlier in the urgency order."""
        by_priority = _PRIORITY_RANK[self.priority(candidate)] - _PRIORITY_RANK[self.priority(current)]
        if by_priority != 0:
            return by_priority < 0
        return self.urgency.index(candidate) < self.urgency.index(current)


_PRIORITY_RANK = {Priority.P1: 1, Priority.P2: 2, Priority.P3: 3}


def load_taxonomy(path: Path = DEFAULT_TAXONOMY) -> Taxonomy:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        parsed = _TaxonomyFile.model_validate(raw)
    except OSError as error:
        raise TaxonomyError(f"{path}: cannot read: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise TaxonomyError(f"{path}: not YAML: {error}") from None
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(file)'}: {e['msg']}" for e in error.errors())
        raise TaxonomyError(f"{path}: {problems}") from None
    return Taxonomy(
        version=parsed.version,
        lanes={issue: placement.lane for issue, placement in parsed.issue_types.items()},
        priorities={issue: placement.priority for issue, placement in parsed.issue_types.items()},
        urgency=tuple(parsed.urgency),
    )
