"""``triage-router``: run the service, or use its logic offline."""

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TextIO

from triage_router.app import build
from triage_router.assignment import AgentBook
from triage_router.config import RouterSettings
from triage_router.policy import DEFAULT_POLICY, PolicyError, RoutingPolicy, load_policy
from triage_router.records_io import classified_from, routed
from triage_router.roster import RosterError, load_roster
from triage_router.staffing import StaffingReplay
from triage_runtime.delivery import Rejected
from triage_runtime.jsonlines import LineError, LineReport, Source, exit_status, read_json_lines, record_type_error
from triage_schemas.enums import AgentStatus
from triage_schemas.records import RECORD_MODELS, Agent, ConversationEvent

COMMAND = "triage-router route"


def route_lines(
    policy: RoutingPolicy, source: Source, out: TextIO, err: TextIO, staffing: StaffingReplay | None = None
) -> int:
    """Route classified JSON lines; records of the other known types pass through
    unchanged; returns the number of rejected lines. With ``staffing`` (a roster),
    conversations are assigned in the stream's time and the assignment events written
    after the records that caused them."""
    report = LineReport(out, err)
    for line in read_json_lines(source):
        if isinstance(line, LineError):
            report.reject(line)
            continue
        problem = record_type_error(line.value, RECORD_MODELS)
        if problem is not None:
            report.reject(LineError(line.number, problem))
            continue
        kind = line.value["record_type"]
        if kind != "classified":
            report.pass_through(line)
            if staffing is not None and kind in ("conversation_event", "agent"):
                record = RECORD_MODELS[kind].model_validate(line.value)
                if isinstance(record, Agent):
                    report.write(line.number, staffing.agent(record))
                elif isinstance(record, ConversationEvent):
                    report.write(line.number, staffing.event(record))
            continue
        try:
            message = routed(classified_from(line.value), policy)
        except Rejected as rejected:
            report.reject(LineError(line.number, rejected.reason))
            continue
        if staffing is None:
            report.write(line.number, [message])
        else:
            message, events = staffing.routed(message)
            report.write(line.number, [message, *events])
    report.flush()
    return report.rejected


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="triage-router", description="social-triage router service")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="consume from Kafka and serve /metrics, /healthz, /readyz")
    check = sub.add_parser("check-policy", help="validate a routing policy file; non-zero exit with every error")
    check.add_argument("file", type=Path)
    route_cmd = sub.add_parser("route", help="route classified JSON lines from stdin to stdout")
    route_cmd.add_argument("--policy", type=Path, default=DEFAULT_POLICY, help="policy file (default: shipped)")
    route_cmd.add_argument(
        "--agents", type=Path, help="a roster YAML: assign conversations too and print per-agent load on stderr"
    )
    agents_cmd = sub.add_parser("agents", help="the agent roster on social.agents")
    agents_sub = agents_cmd.add_subparsers(dest="agents_command", required=True)
    load_cmd = agents_sub.add_parser("load", help="check a roster YAML and publish every agent in it")
    load_cmd.add_argument("file", type=Path)
    load_cmd.add_argument("--remove", action="append", default=[], metavar="AGENT_ID", help="also remove this agent")
    status_cmd = agents_sub.add_parser("status", help="publish an agent's new status (as agent tools do)")
    status_cmd.add_argument("file", type=Path, help="the roster YAML the agent is in")
    status_cmd.add_argument("agent_id")
    status_cmd.add_argument("status", choices=[str(s) for s in AgentStatus])
    bench_cmd = sub.add_parser("bench", help="routing decisions per second and peak RSS, offline")
    bench_cmd.add_argument("--count", type=int, default=20_000, help="synthetic classified messages to route")
    bench_cmd.add_argument("--policy", type=Path, default=DEFAULT_POLICY, help="policy file (default: shipped)")
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return build(RouterSettings()).run()
        if args.command == "check-policy":
            policy = load_policy(args.file)
            print(f"{args.file}: ok (version {policy.version}, {len(policy.triggers)} triggers)")
            return 0
        if args.command == "route":
            policy = load_policy(args.policy)
            staffing = None
            if args.agents is not None:
                staffing = StaffingReplay(AgentBook.for_policy(policy))
                for agent in load_roster(args.agents):
                    staffing.book.apply_agent(agent.agent_id, agent)
            rejected = route_lines(policy, sys.stdin, sys.stdout, sys.stderr, staffing)
            if staffing is not None:
                print("\n".join(staffing.summary()), file=sys.stderr)
            return exit_status(COMMAND, rejected, sys.stderr)
        if args.command == "agents":
            from triage_router.publish_roster import publish_roster, with_status

            agents = load_roster(args.file)
            if args.agents_command == "status":
                agents = with_status(agents, args.agent_id, AgentStatus(args.status))
                removed: list[str] = []
            else:
                removed = args.remove
            topic = asyncio.run(publish_roster(RouterSettings(), agents, removed))
            print(f"published {len(agents)} agents, removed {len(removed)}, on {topic}")
            return 0
        if args.command == "bench":
            from triage_router.bench import run

            return run(args.count, args.policy)
    except (PolicyError, RosterError) as error:
        print(error, file=sys.stderr)
        return 1
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
