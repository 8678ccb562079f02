"""The report's overview sections: title bar, navigation, summary, timeline, cost."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ideamine.render import model_statement
from orchestrator.report_html.charts import fmt_seconds, gantt, stacked_bars
from orchestrator.report_html.data import CostRow, ReportData
from orchestrator.report_html.markup import Html, el
from orchestrator.report_html.widgets import card, table, usd

__all__ = ["SECTIONS", "header", "nav", "summary", "timeline_section", "cost_section"]

#: (anchor id, navigation title) in page order
SECTIONS = (
    ("summary", "Summary"),
    ("timeline", "Timeline"),
    ("gates", "Gates"),
    ("cost", "Cost"),
    ("traceability", "Traceability"),
    ("clarifications", "Questions & assumptions"),
    ("artifacts", "Artifacts"),
)


def header(d: ReportData) -> Html:
    """The title bar: run title, status, id."""
    run = d.run
    return el(
        "header",
        {"class_": "top"},
        el("h1", None, run.title or "Untitled run"),
        el(
            "div",
            {"class_": "sub"},
            el(
                "span",
                {"class_": f"badge status-{run.status.value.lower()}", "id": "run-status"},
                run.status.value,
            ),
            " run ",
            el("code", None, run.id),
            f" · tenant {run.tenant} · created {run.created_at:%Y-%m-%d %H:%M:%S} UTC",
        ),
    )


def nav() -> Html:
    """The sticky table of contents."""
    return el("nav", {"class_": "toc"}, (el("a", {"href": f"#{a}"}, t) for a, t in SECTIONS))


def summary(d: ReportData) -> Html:
    """Key numbers, provenance, the idea and its constraints."""
    run = d.run
    finished = sum(1 for s in d.spans if s.outcome in ("completed", "waived"))
    models = sorted({a.model for a in d.artifacts} | {c.model for c in d.calls})
    kpis = [
        ("phases done", f"{finished} / {len(d.phases)}"),
        ("duration", fmt_seconds(d.duration)),
        ("artifacts", str(len(d.artifacts))),
        ("model calls", str(len(d.calls))),
        ("tokens", f"{sum(c.input_tokens + c.output_tokens for c in d.calls):,}"),
        ("cost", usd(sum(c.cost_usd for c in d.calls))),
        ("ledger rows", str(len(d.events))),
    ]
    constraints: Mapping[str, Any] = run.idea.get("constraints") or {}
    meta = [
        ("Run id", el("code", None, run.id)),
        ("Policy", run.policy.value),
        ("Phases", ", ".join(d.phases)),
        ("Models", "; ".join(f"{m}: {model_statement(m)}" for m in models) or "—"),
    ]
    if run.status_reason:
        meta.append(("Status reason", run.status_reason))
    if run.finished_at:
        meta.append(("Finished", f"{run.finished_at:%Y-%m-%d %H:%M:%S} UTC"))
    for key, value in constraints.items():
        if value not in (None, "", [], 0):
            meta.append(
                (
                    f"Constraint: {key.replace('_', ' ')}",
                    ", ".join(map(str, value)) if isinstance(value, list) else str(value),
                )
            )
    return card(
        "summary",
        "Summary",
        el(
            "div",
            {"class_": "kpis"},
            (
                el("div", {"class_": "kpi"}, el("div", {"class_": "v"}, v), el("div", {"class_": "k"}, k))
                for k, v in kpis
            ),
        ),
        el("h3", None, "Idea"),
        el("div", {"class_": "idea", "id": "idea"}, str(run.idea.get("text", ""))),
        el(
            "details",
            {"class_": "run-details"},
            el("summary", None, "Run details and constraints"),
            el("dl", {"class_": "meta"}, ((el("dt", None, k), el("dd", None, v)) for k, v in meta)),
        ),
    )


def timeline_section(d: ReportData) -> Html:
    """The Gantt chart of phases from ledger timestamps, with a table of the same numbers."""
    legend = el(
        "div",
        {"class_": "legend-line"},
        (
            el("span", {"class_": f"l-{k}"}, t)
            for k, t in (
                ("completed", "completed"),
                ("retried", "attempt that failed its gate"),
                ("failed", "failed"),
                ("stopped", "stopped"),
                ("open", "still open"),
                ("parallel", "phases in parallel"),
                ("gate", "gate evaluation"),
            )
        ),
    )
    rows = [
        (
            s.phase,
            s.outcome,
            len({seg.attempt for seg in s.segments}) or "—",
            "—" if s.start is None else f"+{s.start:.2f} s",
            "—" if s.end is None else f"+{s.end:.2f} s",
            "—" if s.start is None or s.end is None else fmt_seconds(s.end - s.start),
        )
        for s in d.spans
    ]
    return card(
        "timeline",
        "Phase timeline",
        el(
            "p",
            {"class_": "muted"},
            "From the ledger's phase.started and phase.completed timestamps; seconds since the run was created.",
        ),
        legend,
        gantt(d.spans),
        el(
            "details",
            None,
            el("summary", None, "Timeline as a table"),
            table(("phase", "result", "attempts", "started", "ended", "duration"), rows, num=(2, 3, 4, 5)),
        ),
    )


def cost_section(d: ReportData) -> Html:
    """Tokens and USD per phase and model, as charts and a table."""
    rows: list[CostRow] = d.costs
    if not rows:
        return card(
            "cost", "Cost per phase and model", el("p", {"class_": "muted"}, "No model calls were recorded.")
        )
    total_usd = sum(r.usd for r in rows)
    note = (
        "Every call cost $0.00 (the offline model is a free, deterministic generator), so there is no "
        "dollar chart; the token chart above shows the work per phase."
        if total_usd == 0
        else ""
    )
    table_rows: list[Sequence[object]] = [
        (
            r.phase,
            r.model,
            r.calls,
            f"{r.input_tokens:,}",
            f"{r.output_tokens:,}",
            f"{r.tokens:,}",
            usd(r.usd),
        )
        for r in rows
    ]
    table_rows.append(
        (
            "total",
            "",
            sum(r.calls for r in rows),
            f"{sum(r.input_tokens for r in rows):,}",
            f"{sum(r.output_tokens for r in rows):,}",
            f"{sum(r.tokens for r in rows):,}",
            usd(total_usd),
        )
    )
    return card(
        "cost",
        "Cost per phase and model",
        el("h3", None, "Tokens (input + output)"),
        stacked_bars(
            rows,
            d.phases,
            lambda r: float(r.tokens),
            lambda v: f"{v:,.0f}",
            label="Tokens per phase and model",
        ),
        el("h3", None, "US dollars"),
        el("p", {"class_": "muted"}, note)
        if note
        else stacked_bars(rows, d.phases, lambda r: r.usd, usd, label="USD per phase and model"),
        table(
            ("phase", "model", "calls", "input tokens", "output tokens", "tokens", "USD"),
            table_rows,
            num=(2, 3, 4, 5, 6),
            row_class=lambda n: "total" if n == len(table_rows) - 1 else None,
        ),
    )
