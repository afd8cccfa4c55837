"""Writes the Grafana dashboard ``social-triage.json`` (and the copy the Kubernetes
component ``grafana-dashboard`` turns into a ConfigMap) from the panels below.

``make dashboards`` runs it; ``tests/deploy/test_dashboard.py`` fails when the JSON
differs from what it writes, runs Grafana's dashboard linter on it, and the end-to-end
test ``tests/e2e/test_dashboard.py`` runs every panel's query against a real Prometheus.

Every query is written with a selector on each metric (``metric{}`` at least): ``scoped``
adds the ``job`` and ``instance`` matchers of the dashboard's variables to each one.
"""

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DASHBOARD = HERE / "social-triage.json"
# Kustomize reads only files under the kustomization: the component carries a copy.
COMPONENT_COPY = HERE.parent.parent / "k8s" / "components" / "grafana-dashboard" / "social-triage.json"

UID = "social-triage"
TITLE = "Social triage"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SCOPE = 'job=~"$job", instance=~"$instance"'
BADGE_SHARE = 0.9  # a platform's "very responsive" badge: 90 % of DMs answered within the window
WINDOWS = ("15m", "1h", "6h", "1d", "7d")
DEFAULT_WINDOW = "1h"


def scoped(expr: str) -> str:
    """``expr`` with the job and instance matchers added to every selector."""

    def add(match: re.Match[str]) -> str:
        inner = match.group(1).strip()
        return "{" + (f"{inner}, {SCOPE}" if inner else SCOPE) + "}"

    return re.sub(r"\{([^{}]*)\}", add, expr)


@dataclass
class Query:
    expr: str
    legend: str = ""
    instant: bool = False  # a table's: one value per series, now


@dataclass
class Panel:
    type: str
    title: str
    description: str
    queries: list[Query]
    unit: str
    width: int
    height: int = 8
    options: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    overrides: list[dict[str, Any]] = field(default_factory=list)
    transformations: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Row:
    title: str
    panels: list[Panel]


def quantiles(by: str) -> list[Query]:
    """Median and p90 of first responses over the rolling window, per ``by``."""
    bucket = "triage_sla_first_response_seconds_bucket{}"
    return [
        Query(
            f"histogram_quantile({q}, sum by ({by}, le) (increase({bucket}[$window])))",
            "{{" + by + "}} " + name,
        )
        for q, name in ((0.5, "median"), (0.9, "p90"))
    ]


def timeseries(title: str, description: str, queries: list[Query], unit: str, width: int, **extra: Any) -> Panel:
    options = {
        "legend": {"displayMode": "table", "placement": "right", "showLegend": True, "calcs": ["lastNotNull", "max"]},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    custom = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "spanNulls": False, "showPoints": "never"}
    custom.update(extra.pop("custom", {}))
    return Panel("timeseries", title, description, queries, unit, width, options=options, custom=custom, **extra)


def table(title: str, description: str, queries: list[Query], unit: str, width: int, **extra: Any) -> Panel:
    return Panel("table", title, description, queries, unit, width, options={"showHeader": True}, **extra)


def merged(names: dict[str, str], sort_by: str) -> dict[str, Any]:
    """A table of several instant queries, one row per label set, a column per query."""
    return {
        "transformations": [
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {"excludeByName": {"Time": True}, "renameByName": names}},
            {"id": "sortBy", "options": {"sort": [{"field": sort_by, "desc": True}]}},
        ]
    }


ZERO_IF_NONE_NOTE = "Lanes and priorities without any show 0."

ROWS = [
    Row(
        "First response (rolling window: $window)",
        [
            timeseries(
                "First response by lane: median and p90",
                "Time to the first human agent reply, counted in open hours, over the rolling window: median and "
                "90th percentile per lane (from the SLA monitor's histogram triage_sla_first_response_seconds; "
                "the estimate is as fine as its buckets).",
                quantiles("lane"),
                "s",
                12,
            ),
            timeseries(
                "First response by platform: median and p90",
                "Time to the first human agent reply, counted in open hours, over the rolling window: median and "
                "90th percentile per platform.",
                quantiles("platform"),
                "s",
                12,
            ),
            table(
                "First response by lane and platform",
                "Median and 90th percentile of the first response over the rolling window, for each lane on each "
                "platform that had first responses in it; slowest p90 first.",
                [
                    Query(q.expr.replace("sum by (lane, le)", "sum by (lane, platform, le)"), instant=True)
                    for q in quantiles("lane")
                ],
                "s",
                24,
                **merged({"Value #A": "median", "Value #B": "p90"}, "p90"),
            ),
        ],
    ),
    Row(
        "Direct messages and the response badge",
        [
            Panel(
                "gauge",
                "DMs answered within 5 minutes, last 7 days",
                "Share of direct messages whose first human reply came within the badge window (5 minutes by "
                "default, TRIAGE_SLA_MONITOR_DM_BADGE_WINDOW_SECONDS) over the last 7 days. A platform's 'very "
                "responsive' badge asks for 90 %. With several SLA monitor replicas, the mean of their shares "
                "(each covers its own partitions).",
                [Query("avg(triage_sla_dm_answered_within_share{})", "share")],
                "percentunit",
                6,
                options={
                    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "showThresholdLabels": False,
                    "showThresholdMarkers": True,
                },
                defaults={"min": 0, "max": 1, "decimals": 1},
            ),
            timeseries(
                "DMs answered within 5 minutes vs the 90 % badge line",
                "The 7-day share of direct messages answered within the badge window, over time; the line is "
                "the 90 % a platform's 'very responsive' badge asks for.",
                [Query("avg(triage_sla_dm_answered_within_share{})", "answered within the window")],
                "percentunit",
                18,
                defaults={"min": 0, "max": 1},
                custom={"thresholdsStyle": {"mode": "line+area"}, "fillOpacity": 0},
            ),
        ],
    ),
    Row(
        "Breaches and warnings",
        [
            timeseries(
                "Breaches by lane and priority (last $window)",
                "First-response breaches raised in the rolling window, per lane and priority (SLA alerts of "
                "kind breach). " + ZERO_IF_NONE_NOTE,
                [
                    Query(
                        'sum by (lane, priority) (increase(triage_sla_alerts_total{kind="breach"}[$window]))'
                        " or sum by (lane, priority) (triage_sla_overdue_conversations{}) * 0",
                        "{{lane}} {{priority}}",
                    )
                ],
                "short",
                12,
                defaults={"min": 0},
            ),
            timeseries(
                "Warnings by lane and priority (last $window)",
                "First-response warnings (a share of the target elapsed without a reply) raised in the rolling "
                "window, per lane and priority. " + ZERO_IF_NONE_NOTE,
                [
                    Query(
                        'sum by (lane, priority) (increase(triage_sla_alerts_total{kind="warning"}[$window]))'
                        " or sum by (lane, priority) (triage_sla_overdue_conversations{}) * 0",
                        "{{lane}} {{priority}}",
                    )
                ],
                "short",
                12,
                defaults={"min": 0},
            ),
        ],
    ),
    Row(
        "Backlog",
        [
            timeseries(
                "Unanswered by lane",
                "Conversations waiting for a first human reply, per lane (paused ones included).",
                [Query("sum by (lane) (triage_sla_unanswered_conversations{})", "{{lane}}")],
                "short",
                8,
                defaults={"min": 0},
            ),
            timeseries(
                "Oldest unanswered by lane",
                "Counted age (open hours only, pauses left out) of the oldest conversation still waiting for a "
                "first reply, per lane.",
                [Query("max by (lane) (triage_sla_oldest_unanswered_age_seconds{})", "{{lane}}")],
                "s",
                8,
                defaults={"min": 0},
            ),
            timeseries(
                "Waiting past target by lane and priority",
                "Conversations still waiting for a first reply past their first-response target now, per lane "
                "and priority (a P1 here pages on-call: TriageP1WaitingPastTarget).",
                [Query("sum by (lane, priority) (triage_sla_overdue_conversations{})", "{{lane}} {{priority}}")],
                "short",
                8,
                defaults={"min": 0},
            ),
        ],
    ),
    Row(
        "Surges",
        [
            timeseries(
                "Open surges by dimension",
                "Volume surges open now, per dimension (lane, platform, issue type): the detector's "
                "triage_surge_active summed over the dimension's values.",
                [Query("sum by (dimension) (triage_surge_active{})", "{{dimension}}")],
                "short",
                8,
                defaults={"min": 0},
                custom={"drawStyle": "line", "lineInterpolation": "stepAfter"},
            ),
            timeseries(
                "Surge alerts by kind (last $window)",
                "Surge alerts raised in the rolling window, per kind (surge, surge_resolved, negative_share, "
                "p1_cluster) and dimension.",
                [
                    Query(
                        "sum by (kind, dimension) (increase(triage_surge_alerts_total{}[$window]))",
                        "{{kind}} {{dimension}}",
                    )
                ],
                "short",
                16,
                defaults={"min": 0},
            ),
            table(
                "Surge windows: volume against the baseline",
                "For each lane, platform and issue type the detector watches: inbound messages in its current "
                "window, what the baseline expects for that window (0 while it is still learned), and whether "
                "a surge is open. Busiest first.",
                [
                    Query("sum by (dimension, value) (triage_surge_window_count{})", instant=True),
                    Query("sum by (dimension, value) (triage_surge_expected{})", instant=True),
                    Query("max by (dimension, value) (triage_surge_active{})", instant=True),
                ],
                "short",
                24,
                overrides=[
                    {
                        "matcher": {"id": "byName", "options": "surge"},
                        "properties": [
                            {
                                "id": "mappings",
                                "value": [
                                    {
                                        "type": "value",
                                        "options": {
                                            "0": {"index": 0, "text": "no"},
                                            "1": {"index": 1, "text": "open", "color": "red"},
                                        },
                                    }
                                ],
                            },
                            {"id": "custom.cellOptions", "value": {"type": "color-text"}},
                        ],
                    }
                ],
                **merged({"Value #A": "in window", "Value #B": "expected", "Value #C": "surge"}, "in window"),
            ),
        ],
    ),
    Row(
        "Pipeline",
        [
            timeseries(
                "Consumer lag per stage",
                "Records on the stage's input partitions not yet committed by it (high watermark minus "
                "committed offset, updated after each batch): what delays the SLA clocks. "
                "TriageConsumerLagHigh fires past 1,000 for 10 minutes.",
                [Query("sum by (stage) (triage_consumer_lag_records{})", "{{stage}}")],
                "short",
                8,
                defaults={"min": 0},
            ),
            timeseries(
                "Dead letters per stage (last $window)",
                "Records a stage could not use and sent to the dead-letter topic, in the rolling window "
                "(stages that consumed records without any show 0). TriageDeadLettersGrowing fires past 10 in "
                "15 minutes.",
                [
                    Query(
                        "sum by (stage) (increase(triage_stage_dead_letters_total{}[$window]))"
                        " or sum by (stage) (increase(triage_stage_records_in_total{}[$window])) * 0",
                        "{{stage}}",
                    )
                ],
                "short",
                8,
                defaults={"min": 0},
            ),
            timeseries(
                "Records consumed per stage",
                "Records each stage reads per second (all replicas).",
                [
                    Query(
                        "sum by (stage) (rate(triage_stage_records_in_total{}[$__rate_interval]))",
                        "{{stage}}",
                    )
                ],
                "cps",
                8,
                defaults={"min": 0},
            ),
        ],
    ),
]


def variables() -> list[dict[str, Any]]:
    def label_values(name: str, query: str) -> dict[str, Any]:
        return {
            "type": "query",
            "name": name,
            "label": name.title(),
            "datasource": DATASOURCE,
            "query": query,
            "definition": query,
            "refresh": 2,  # on time range change
            "multi": True,
            "includeAll": True,
            "allValue": ".+",
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "options": [],
            "regex": "",
            "sort": 1,
            "hide": 0,
        }

    return [
        {
            "type": "datasource",
            "name": "datasource",
            "label": "Data source",
            "query": "prometheus",
            "current": {},
            "options": [],
            "regex": "",
            "refresh": 1,
            "hide": 0,
        },
        label_values("job", "label_values(triage_stage_records_in_total, job)"),
        label_values("instance", 'label_values(triage_stage_records_in_total{job=~"$job"}, instance)'),
        {
            "type": "custom",
            "name": "window",
            "label": "Window",
            "description": "Rolling window of the first-response percentiles and of the alert and dead-letter counts",
            "query": ",".join(WINDOWS),
            "current": {"selected": True, "text": DEFAULT_WINDOW, "value": DEFAULT_WINDOW},
            "options": [{"selected": w == DEFAULT_WINDOW, "text": w, "value": w} for w in WINDOWS],
            "multi": False,
            "includeAll": False,
            "hide": 0,
        },
    ]


def panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    thresholds = {"mode": "absolute", "steps": [{"color": "green", "value": None}]}
    if panel.unit == "percentunit":
        thresholds["steps"] = [{"color": "red", "value": None}, {"color": "green", "value": BADGE_SHARE}]
    defaults: dict[str, Any] = {"unit": panel.unit, "thresholds": thresholds, **panel.defaults}
    if panel.custom:
        defaults["custom"] = panel.custom
    targets = []
    for ref, query in zip("ABCDEFGH", panel.queries, strict=False):
        target: dict[str, Any] = {"refId": ref, "datasource": DATASOURCE, "expr": scoped(query.expr)}
        if query.instant:
            target.update(instant=True, range=False, format="table")
        else:
            target.update(range=True, legendFormat=query.legend or "__auto")
        targets.append(target)
    out: dict[str, Any] = {
        "id": panel_id,
        "type": panel.type,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": panel.overrides},
        "options": panel.options,
        "targets": targets,
    }
    if panel.transformations:
        out["transformations"] = panel.transformations
    return out


def dashboard() -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    y = 0
    next_id = 1
    for row in ROWS:
        panels.append(
            {
                "id": next_id,
                "type": "row",
                "title": row.title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        next_id += 1
        y += 1
        x, line_height = 0, 0
        for panel in row.panels:
            if x + panel.width > 24:
                x, y, line_height = 0, y + line_height, 0
            panels.append(panel_json(panel, next_id, x, y))
            next_id += 1
            x += panel.width
            line_height = max(line_height, panel.height)
        y += line_height
    return {
        "uid": UID,
        "title": TITLE,
        "description": "Social-media customer messages: first response by lane and platform, the DM response "
        "badge, SLA breaches and warnings, backlog, surges and the pipeline's health "
        "(deploy/monitoring/dashboards/generate.py).",
        "tags": ["social-triage"],
        "editable": False,
        "graphTooltip": 1,
        "timezone": "",
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "schemaVersion": 41,
        "version": 1,
        "links": [],
        "annotations": {"list": []},
        "templating": {"list": variables()},
        "panels": panels,
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 when a written file differs, write nothing")
    args = parser.parse_args(argv)
    text = render()
    stale = [path for path in (DASHBOARD, COMPONENT_COPY) if not path.exists() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path} is stale: run `make dashboards`")
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
