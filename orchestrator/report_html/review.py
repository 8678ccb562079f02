"""The report's review sections: gates, traceability, questions and assumptions, artifacts."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ideamine.catalogue import load_catalogue
from ideamine.store.records import GateEvaluationRecord
from orchestrator.report_html.data import ReportData
from orchestrator.report_html.markdown import markdown_to_html
from orchestrator.report_html.markup import Html, el
from orchestrator.report_html.widgets import card, ids, meter, table

__all__ = ["Renderer", "gates_section", "traceability_section", "clarifications_section", "artifacts_section"]

#: ``render(artifact_type, content, model) -> Markdown`` (the ``ideamine_render_artifact`` hook)
Renderer = Callable[[str, dict[str, Any], str], str]


def _metrics_list(metrics: Sequence[Mapping[str, Any]]) -> Html:
    """One line per metric: pass/fail, name, measured value and the rule it is held to."""

    def rule(m: Mapping[str, Any]) -> str:
        t = m.get("threshold")
        if isinstance(t, list):
            shown = "–".join(f"{x:g}" for x in t)
        else:
            shown = f"{t:g}" if isinstance(t, int | float) else str(t)
        return f"{m.get('op', '')} {shown}"

    def value(v: Any) -> str:
        return "—" if v is None else f"{v:.3g}" if isinstance(v, float) else str(v)

    return el(
        "ul",
        {"class_": "metrics"},
        (
            el(
                "li",
                {"class_": "pass" if m.get("passed") else "fail"},
                "✓ " if m.get("passed") else "✗ ",
                el("code", None, str(m.get("metric", ""))),
                f" = {value(m.get('value'))} (needs {rule(m)}{', required' if m.get('required') else ''})",
            )
            for m in metrics
        ),
    )


def _gate_row(phase: str, g: GateEvaluationRecord | None, min_score: float | None, first: bool) -> Html:
    label = el("td", {"class_": "phase"}, phase if first else "")
    if g is None:
        return el(
            "tr",
            {"class_": "gate-attempt", "data_phase": phase},
            label,
            el("td", {"class_": "muted", "colspan": 5}, "not evaluated"),
        )
    findings = (
        el("ul", {"class_": "findings"}, (el("li", None, f) for f in g.findings))
        if g.findings
        else el("span", {"class_": "muted"}, "none")
    )
    return el(
        "tr",
        {
            "class_": "gate-attempt",
            "data_phase": phase,
            "data_attempt": g.attempt,
            "data_decision": g.decision.value,
        },
        label,
        el("td", {"class_": "num"}, g.attempt),
        el(
            "td",
            {"class_": "num"},
            meter(g.score, min_score),
            f"{g.score:.1f}",
            el("span", {"class_": "muted"}, "" if min_score is None else f" / {min_score:g}"),
        ),
        el(
            "td", None, el("span", {"class_": f"badge decision-{g.decision.value.lower()}"}, g.decision.value)
        ),
        el("td", {"class_": "metrics-cell"}, _metrics_list(g.metrics)),
        el("td", None, findings),
    )


def gates_section(d: ReportData) -> Html:
    """Every gate evaluation per phase and attempt: score, decision, findings, metrics."""
    catalogue = load_catalogue()
    known = set(catalogue.names)
    rows = []
    for phase in d.phases:
        min_score = catalogue.phase(phase).gate.min_score if phase in known else None
        evals: list[GateEvaluationRecord | None] = [g for g in d.gates if g.phase == phase] or [None]
        rows += [_gate_row(phase, g, min_score, i == 0) for i, g in enumerate(evals)]
    head = ("phase", "attempt", "score / minimum", "decision", "metrics", "findings")
    gates = table(head, num=(1, 2), body=rows, table_class="gates")
    failed = sum(1 for g in d.gates if g.decision.value == "FAIL")
    return card(
        "gates",
        "Gates",
        el(
            "p",
            {"class_": "muted"},
            f"{len(d.gates)} evaluation{'' if len(d.gates) == 1 else 's'}, {failed} failed. "
            "Score = 100 × weights of passing metrics ÷ all weights; a failing required metric or a score "
            "under the minimum fails the gate, and the next attempt re-runs the tasks behind the failing "
            "metrics with the findings as feedback.",
        ),
        gates,
    )


def traceability_section(d: ReportData) -> Html:
    """Requirement → stories → acceptance criteria → test cases (``orchestrator.report.traceability_rows``)."""
    rows = d.traceability
    if not rows:
        return card(
            "traceability",
            "Traceability matrix",
            el("p", {"class_": "muted"}, "No requirements yet (the PRD phase has not produced a PRD)."),
        )
    with_stories = sum(1 for r in rows if r["story_ids"])
    with_tests = sum(1 for r in rows if r["test_case_ids"])
    return card(
        "traceability",
        "Traceability matrix",
        el(
            "p",
            None,
            f"{len(rows)} requirements · {with_stories} covered by stories · {with_tests} covered by test cases. Rows without test cases are highlighted.",
        ),
        table(
            ("requirement", "stories", "acceptance criteria", "test cases"),
            (
                (
                    r["requirement_id"],
                    ids(r["story_ids"]),
                    ids(r["acceptance_ids"]),
                    ids(r["test_case_ids"]),
                )
                for r in rows
            ),
            row_class=lambda n: None if rows[n]["test_case_ids"] else "gap",
        ),
    )


def clarifications_section(d: ReportData) -> Html:
    """Questions with their answers, and the assumptions recorded in place of answers."""
    by_id = {q.id: q.code for q in d.questions}
    questions = (
        table(
            ("code", "phase", "status", "question", "answer", "confidence", "answered by"),
            (
                (
                    q.code,
                    q.phase,
                    q.status.value + (" · blocking" if q.blocking else ""),
                    q.text,
                    q.answer or "—",
                    "—" if q.confidence is None else f"{q.confidence:.2f}",
                    q.answered_by or "—",
                )
                for q in d.questions
            ),
            num=(5,),
        )
        if d.questions
        else el("p", {"class_": "muted"}, "No questions were asked.")
    )
    assumptions = (
        table(
            ("code", "phase", "assumption", "instead of answering"),
            ((a.code, a.phase, a.text, by_id.get(a.question_id or "", "—")) for a in d.assumptions),
        )
        if d.assumptions
        else el("p", {"class_": "muted"}, "No assumptions were recorded.")
    )
    return card(
        "clarifications",
        "Questions and assumptions",
        el("h3", None, f"Questions ({len(d.questions)})"),
        questions,
        el("h3", None, f"Assumptions ({len(d.assumptions)})"),
        assumptions,
    )


def artifacts_section(d: ReportData, render: Renderer) -> Html:
    """Every artifact (latest version), rendered, grouped by phase."""
    groups = []
    order = {p: i for i, p in enumerate(d.phases)}
    for phase in sorted({a.phase for a in d.artifacts}, key=lambda p: (order.get(p, len(order)), p)):
        items = []
        in_phase = [x for x in d.artifacts if x.phase == phase]
        first = {t: i for i, t in reversed(list(enumerate(x.type for x in in_phase)))}
        for a in sorted(in_phase, key=lambda x: (first[x.type], x.key)):
            name = f"{a.type} · {a.key}" if a.key else a.type
            body = markdown_to_html(render(a.type, a.content, a.model), heading_offset=3)
            items.append(
                el(
                    "details",
                    {
                        "class_": "artifact",
                        "id": f"artifact-{a.id}",
                        "data_type": a.type,
                        "data_search": f"{phase} {a.type} {a.key}".lower(),
                    },
                    el(
                        "summary",
                        None,
                        name,
                        el("span", {"class_": "meta"}, f"v{a.version} · {a.model} · sha256 {a.sha256[:12]}"),
                    ),
                    el("div", {"class_": "body"}, body),
                )
            )
        groups.append(
            el(
                "div",
                {"class_": "artifact-phase", "data_phase": phase},
                el("h3", None, f"{phase} ({len(items)})"),
                items,
            )
        )
    toolbar = el(
        "div",
        {"class_": "toolbar"},
        el(
            "input",
            {
                "id": "artifact-filter",
                "type": "search",
                "placeholder": "Filter by phase, type or story id",
                "aria-label": "Filter artifacts",
            },
        ),
        el("span", {"id": "artifact-count", "class_": "muted"}, f"{len(d.artifacts)} shown"),
        el("button", {"id": "expand-all", "type": "button"}, "Expand all"),
        el("button", {"id": "collapse-all", "type": "button"}, "Collapse all"),
    )
    return card(
        "artifacts",
        f"Artifacts ({len(d.artifacts)})",
        toolbar,
        groups or el("p", {"class_": "muted"}, "No artifacts yet."),
    )
