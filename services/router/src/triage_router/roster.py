"""The agent roster as a care lead writes it: a YAML file of agents, checked before use."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from triage_runtime.jsonlines import validation_summary
from triage_schemas.records import Agent


class RosterError(Exception):
    def __init__(self, source: str, errors: list[str]) -> None:
        self.source = source
        self.errors = errors
        super().__init__(f"{source}: " + "; ".join(errors))


def parse_roster(data: Any, source: str = "roster", now: datetime | None = None) -> list[Agent]:
    """``agents:`` as a list of agents (``updated_at`` defaults to now); every problem listed."""
    if not isinstance(data, dict) or not isinstance(data.get("agents"), list):
        raise RosterError(source, ["(top level): expected 'agents:' with a list of agents"])
    stamp = (now or datetime.now(UTC)).isoformat()
    agents: list[Agent] = []
    errors: list[str] = []
    seen: set[str] = set()
    for index, item in enumerate(data["agents"]):
        if not isinstance(item, dict):
            errors.append(f"agents.{index}: expected a mapping (agent_id, name, teams, ...)")
            continue
        try:
            agent = Agent.model_validate({"updated_at": stamp, **item})
        except ValidationError as error:
            errors.append(f"agents.{index}: {validation_summary(error)}")
            continue
        if agent.agent_id in seen:
            errors.append(f"agents.{index}.agent_id: '{agent.agent_id}' is listed twice")
        seen.add(agent.agent_id)
        agents.append(agent)
    if errors:
        raise RosterError(source, errors)
    return agents


def load_roster(path: Path, now: datetime | None = None) -> list[Agent]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise RosterError(str(path), [f"(file): cannot read: {error}"]) from None
    except yaml.YAMLError as error:
        raise RosterError(str(path), [f"(yaml): {error}"]) from None
    return parse_roster(data, str(path), now)
