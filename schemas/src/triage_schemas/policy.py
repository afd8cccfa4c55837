"""The SLA section of the routing policy file, shared by the router (which stamps
deadlines) and the SLA monitor (whose replay re-applies a policy's targets).

```yaml
sla:
  targets:              # first-response target per issue type; null = no clock
    account_compromise: 15m
    spam: null
  fallback:             # per lane and priority, for an issue type without a target
    support: {P1: 15m, P2: 1h, P3: 4h}
  alerts: {warning: 0.8, breach: 1.0, escalation: 2.0}   # fractions of the target
```
Durations are whole seconds or strings such as ``90s``, ``15m``, ``2h``, ``1h30m``, ``1d``.
"""

import re
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from triage_schemas.enums import IssueType, Lane, Priority

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s)")
_UNIT_SECONDS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}


def parse_duration(value: object) -> object:
    """``"1h30m"`` -> 5400; numbers pass through; anything else is left for pydantic to reject."""
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if text.isdigit():
            return int(text)
        parts = _DURATION.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise ValueError(f"'{value}' is not a duration (use seconds, or e.g. 90s, 15m, 2h, 1h30m, 1d)")
        return round(sum(float(n) * _UNIT_SECONDS[u] for n, u in parts))
    return value


Seconds = Annotated[int, BeforeValidator(parse_duration), Field(ge=1)]
"""A positive duration in whole seconds."""


class AlertFractions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    warning: float = Field(default=0.8, gt=0, description="warning alert at this fraction of the target")
    breach: float = Field(default=1.0, gt=0, description="breach alert at this fraction of the target")
    escalation: float = Field(default=2.0, gt=0, description="tier-2 escalation at this fraction of the target")

    @model_validator(mode="after")
    def _ordered(self) -> "AlertFractions":
        if not self.warning < self.breach < self.escalation:
            raise ValueError("alert fractions must rise: warning < breach < escalation")
        return self


class SlaPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    targets: dict[IssueType, Seconds | None] = Field(default_factory=dict)
    fallback: dict[Lane, dict[Priority, Seconds]] = Field(default_factory=dict)
    alerts: AlertFractions = Field(default_factory=AlertFractions)

    def target_seconds(self, issue_type: IssueType, lane: Lane, priority: Priority) -> int | None:
        """The first-response target, or None when no clock runs (a null target)."""
        if issue_type in self.targets:
            return self.targets[issue_type]
        return self.fallback.get(lane, {}).get(priority)
