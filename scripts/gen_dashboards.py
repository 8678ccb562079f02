#!/usr/bin/env python3
"""Generate the Grafana dashboards in monitoring/grafana/ from one description.

    venv/bin/python scripts/gen_dashboards.py           # write the JSON files
    venv/bin/python scripts/gen_dashboards.py --check   # exit 1 if a file is stale

Dashboards are data, but hand-edited Grafana JSON drifts (ids, grid positions, copied
queries with the old metric name). Here each panel is one line of intent — title,
query, unit — and the layout, ids and data source wiring are computed. The tests
(tests/observability/test_monitoring.py) check the files are fresh, that every query
parses (promtool) and that every metric it names is one the code exports.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "monitoring" / "grafana"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
WIDTH = 24  # Grafana's grid


@dataclass(frozen=True)
class Query:
    """One PromQL target of a panel."""

    expr: str
    legend: str = ""
    instant: bool = False
    fmt: str = "time_series"  #: time_series | heatmap | table


@dataclass(frozen=True)
class Panel:
    """One panel: what it shows; the layout is computed."""

    title: str
    kind: str  #: stat | timeseries | heatmap | bargauge | table | piechart
    queries: tuple[Query, ...]
    unit: str = "short"
    description: str = ""
    w: int = 6
    h: int = 8
    time_from: str | None = None  #: panel-level relative time (e.g. "now/d", "7d")
    interval: str | None = None  #: minimum step (e.g. "1d" for daily bars)
    stack: bool = False
    options: dict[str, Any] = field(default_factory=dict)


def q(expr: str, legend: str = "", **kw: Any) -> Query:
    """A query (normalising whitespace so multi-line expressions stay readable here)."""
    return Query(" ".join(expr.split()), legend, **kw)


def _panel_json(p: Panel, pid: int, x: int, y: int) -> dict[str, Any]:
    targets = []
    for i, query in enumerate(p.queries):
        t: dict[str, Any] = {
            "refId": chr(ord("A") + i),
            "datasource": DATASOURCE,
            "expr": query.expr,
            "legendFormat": query.legend or "__auto",
            "format": query.fmt,
            "range": not query.instant,
            "instant": query.instant,
        }
        targets.append(t)
    out: dict[str, Any] = {
        "id": pid,
        "type": p.kind,
        "title": p.title,
        "description": p.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": p.h, "w": p.w, "x": x, "y": y},
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": p.unit}, "overrides": []},
        "options": dict(p.options),
    }
    if p.kind == "timeseries":
        out["fieldConfig"]["defaults"]["custom"] = {
            "drawStyle": "line",
            "fillOpacity": 10,
            "stacking": {"mode": "normal" if p.stack else "none", "group": "A"},
        }
    if p.kind == "heatmap":
        out["options"] = {"calculate": False, "yAxis": {"unit": p.unit}, "cellGap": 1, **p.options}
    if p.time_from:
        out["timeFrom"] = p.time_from
    if p.interval:
        out["interval"] = p.interval
    return out


def dashboard(uid: str, title: str, description: str, panels: list[Panel]) -> dict[str, Any]:
    """A dashboard with panels laid out left to right, wrapping at the grid width."""
    laid: list[dict[str, Any]] = []
    x = y = row_h = 0
    for pid, p in enumerate(panels, start=1):
        if x + p.w > WIDTH:
            x, y, row_h = 0, y + row_h, 0
        laid.append(_panel_json(p, pid, x, y))
        x += p.w
        row_h = max(row_h, p.h)
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["ideamine"],
        "timezone": "browser",
        "editable": True,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-24h", "to": "now"},
        "annotations": {"list": []},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Data source",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                    "refresh": 1,
                }
            ]
        },
        "panels": laid,
    }


def stat(title: str, expr: str, unit: str = "short", *, w: int = 6, legend: str = "", **kw: Any) -> Panel:
    """A single-number panel (an instant query)."""
    return Panel(title, "stat", (q(expr, legend, instant=True),), unit=unit, w=w, h=5, **kw)


def series(title: str, *queries: Query, unit: str = "short", w: int = 12, **kw: Any) -> Panel:
    """A time series panel."""
    return Panel(title, "timeseries", queries, unit=unit, w=w, **kw)


def instant(kind: str, title: str, expr: str, legend: str, unit: str, *, w: int, **kw: Any) -> Panel:
    """A panel of one instant query per series (bar gauge, pie chart, table)."""
    fmt = "table" if kind == "table" else "time_series"
    return Panel(title, kind, (q(expr, legend, instant=True, fmt=fmt),), unit=unit, w=w, **kw)


def percentiles(title: str, bucket: str) -> Panel:
    """p50/p95/p99 of a histogram over all its series."""
    return series(
        title,
        *(
            q(
                f"histogram_quantile({p}, sum by (le) (rate({bucket}[$__rate_interval])))",
                f"p{round(p * 100)}",
            )
            for p in (0.5, 0.95, 0.99)
        ),
        unit="s",
        w=8,
    )


def ratio(numerator: str, denominator: str) -> str:
    """``numerator / denominator``, 0 rather than NaN/Inf when the denominator is 0."""
    return f"({numerator}) / clamp_min({denominator}, 1e-9)"


HORIZONTAL = {"orientation": "horizontal", "displayMode": "gradient"}
DONUT = {"reduceOptions": {"calcs": ["lastNotNull"]}, "pieType": "donut"}


def overview() -> dict[str, Any]:
    """Runs, phases, tasks and workers at a glance."""
    rate = "[$__rate_interval]"
    runs = "ideamine_runs_completed_total"
    panels = [
        stat("Active runs", "sum(ideamine_runs_active)", w=4),
        stat("Runs completed", f"sum by (status) (increase({runs}[$__range]))", w=8, legend="{{status}}"),
        stat(
            "Success rate",
            ratio(
                f'sum(increase({runs}{{status="succeeded"}}[$__range]))',
                f'sum(increase({runs}{{status=~"succeeded|failed|cancelled"}}[$__range]))',
            ),
            "percentunit",
            w=4,
            description="Succeeded among runs that reached a terminal status.",
        ),
        stat("Model cost", "sum(increase(ideamine_llm_cost_usd_total[$__range]))", "currencyUSD", w=4),
        stat(
            "Worker utilisation",
            ratio("sum(ideamine_agent_host_busy_slots)", "sum(ideamine_agent_host_slots)"),
            "percentunit",
            w=4,
            description="Busy task slots over all slots of every agent host.",
        ),
        Panel(
            "Run duration",
            "heatmap",
            (
                q(
                    f"sum by (le) (increase(ideamine_run_duration_seconds_bucket{rate}))",
                    "{{le}}",
                    fmt="heatmap",
                ),
            ),
            unit="s",
            w=12,
            description="Creation to terminal status.",
        ),
        series(
            "Phase completions",
            q(
                f"sum by (phase, status) (increase(ideamine_phase_completions_total{rate}))",
                "{{phase}} {{status}}",
            ),
            stack=True,
        ),
        series(
            "Tokens by phase",
            q(f"sum by (phase) (rate(ideamine_llm_tokens_total{rate}))", "{{phase}}"),
            stack=True,
            description="Model tokens per second (input + output).",
        ),
        instant(
            "bargauge",
            "Gate pass rate",
            ratio(
                'sum by (phase) (increase(ideamine_gate_evaluations_total{decision!="fail"}[$__range]))',
                "sum by (phase) (increase(ideamine_gate_evaluations_total[$__range]))",
            ),
            "{{phase}}",
            "percentunit",
            w=12,
            options=HORIZONTAL,
        ),
        series(
            "Idempotent hit rate",
            q(
                ratio(
                    f"sum(rate(ideamine_task_idempotent_hits_total{rate}))",
                    f"sum(rate(ideamine_task_idempotent_hits_total{rate})) + sum(rate(ideamine_tasks_started_total{rate}))",
                ),
                "acked without running",
            ),
            unit="percentunit",
            w=8,
            description="Deliveries whose result already existed, among all deliveries that reached an agent.",
        ),
        percentiles("Phase duration percentiles", "ideamine_phase_duration_seconds_bucket"),
        percentiles("Task run time percentiles", "ideamine_task_run_seconds_bucket"),
        series(
            "Queue wait p99 by agent",
            q(
                f"histogram_quantile(0.99, sum by (le, agent) (rate(ideamine_task_queue_wait_seconds_bucket{rate})))",
                "{{agent}}",
            ),
            unit="s",
        ),
        series(
            "Task outcomes",
            q(f"sum by (status) (rate(ideamine_tasks_completed_total{rate}))", "{{status}}"),
            unit="ops",
            stack=True,
        ),
        series(
            "LLM error rate",
            q(
                ratio(
                    f'sum by (provider, model) (rate(ideamine_llm_requests_total{{status="error"}}{rate}))',
                    f"sum by (provider, model) (rate(ideamine_llm_requests_total{rate}))",
                ),
                "{{provider}}/{{model}}",
            ),
            unit="percentunit",
        ),
        series(
            "gRPC requests by code",
            q(f"sum by (code) (rate(ideamine_grpc_server_handled_total{rate}))", "{{code}}"),
            unit="reqps",
            stack=True,
        ),
    ]
    return dashboard(
        "ideamine-orchestrator-overview",
        "IdeaMine / Orchestrator overview",
        "Runs, phases, gates, tasks and workers.",
        panels,
    )


def cost() -> dict[str, Any]:
    """Where the money goes, and how close runs come to their budgets."""
    usd = "ideamine_llm_cost_usd_total"
    window = "[$__rate_interval]"
    panels = [
        stat("Cost today", f"sum(increase({usd}[$__range]))", "currencyUSD", time_from="now/d"),
        stat(
            "Cost per run",
            ratio(
                "sum(increase(ideamine_run_cost_usd_sum[$__range]))",
                "sum(increase(ideamine_run_cost_usd_count[$__range]))",
            ),
            "currencyUSD",
            description="Mean model spend of runs that reached a terminal status.",
        ),
        stat(
            "Cost per 1k tokens",
            "1000 * "
            + ratio(f"sum(increase({usd}[$__range]))", "sum(increase(ideamine_llm_tokens_total[$__range]))"),
            "currencyUSD",
        ),
        stat(
            "Monthly projection",
            f"sum(rate({usd}[7d])) * 86400 * 30",
            "currencyUSD",
            description="The last 7 days' spending rate over 30 days.",
        ),
        series(
            "7-day trend",
            q(f"sum(increase({usd}[1d]))", "USD per day"),
            unit="currencyUSD",
            time_from="7d",
            interval="1d",
        ),
        instant(
            "piechart",
            "Cost by phase",
            f"sum by (phase) (increase({usd}[$__range]))",
            "{{phase}}",
            "currencyUSD",
            w=6,
            options=DONUT,
        ),
        instant(
            "piechart",
            "Cost by model",
            f"sum by (provider, model) (increase({usd}[$__range]))",
            "{{provider}}/{{model}}",
            "currencyUSD",
            w=6,
            options=DONUT,
        ),
        instant(
            "table",
            "Top expensive phases",
            f"topk(5, sum by (phase) (increase({usd}[$__range])))",
            "{{phase}}",
            "currencyUSD",
            w=8,
        ),
        instant(
            "bargauge",
            "Budget utilisation by phase",
            "max by (phase) (ideamine_budget_utilisation_ratio)",
            "{{phase}}",
            "percentunit",
            w=8,
            description="Share of its budget the last finished run of each phase used.",
            options=HORIZONTAL,
        ),
        series(
            "Budget alerts",
            q(
                f'sum(increase(ideamine_runs_completed_total{{status="budget_exhausted"}}{window}))',
                "runs paused: budget exhausted",
            ),
            q(
                f"""sum(increase(ideamine_run_budget_utilisation_ratio_count{window}))
                - sum(increase(ideamine_run_budget_utilisation_ratio_bucket{{le="0.8"}}{window}))""",
                "runs above 80 % of budget",
            ),
            w=8,
        ),
        series(
            "Tokens vs budget by phase",
            q(f"sum by (phase) (increase(ideamine_llm_tokens_total{window}))", "{{phase}} used"),
            q(f"sum by (phase) (increase(ideamine_phase_budget_tokens_total{window}))", "{{phase}} budget"),
            w=24,
            description="Tokens spent against the token budgets of the phases that finished.",
        ),
    ]
    return dashboard(
        "ideamine-cost-tracking",
        "IdeaMine / Cost tracking",
        "Model spend by phase and model, budgets and projections.",
        panels,
    )


def render() -> dict[str, str]:
    """File name → JSON text of every dashboard."""
    return {
        name: json.dumps(board, indent=2, sort_keys=True) + "\n"
        for name, board in (("orchestrator-overview.json", overview()), ("cost-tracking.json", cost()))
    }


def main(argv: list[str] | None = None) -> int:
    """Write the dashboards, or with ``--check`` report stale ones (exit 1)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if a file differs from the generated one")
    args = parser.parse_args(argv)
    stale = []
    for name, text in render().items():
        path = OUT / name
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            OUT.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"stale dashboards: {', '.join(stale)}; run scripts/gen_dashboards.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
