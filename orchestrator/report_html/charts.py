"""Inline SVG charts: the phase Gantt chart and horizontal stacked bars.

Plain SVG built with :func:`.markup.el` (so labels taken from the run are escaped),
styled by the report's stylesheet through class names, with ``<title>`` tooltips: no
script, no external font or image, nothing fetched at view time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from orchestrator.report_html.data import CostRow, PhaseSpan
from orchestrator.report_html.markup import Html, el

__all__ = ["gantt", "stacked_bars", "fmt_seconds", "nice_step"]

WIDTH = 960
LABEL_W = 130
RIGHT_W = 90
AXIS_H = 26
ROW_H = 26
BAR_H = 14
#: model colour classes (``model-0`` …) cycle through this many
MODEL_COLOURS = 6


def fmt_seconds(seconds: float) -> str:
    """A duration for people: ``0.27 s``, ``4 min 05 s``, ``2 h 03 min``."""
    if seconds < 60:
        return f"{seconds:.2f} s"
    if seconds < 3600:
        m, s = divmod(int(round(seconds)), 60)
        return f"{m} min {s:02d} s"
    h, rest = divmod(int(round(seconds)), 3600)
    return f"{h} h {rest // 60:02d} min"


def nice_step(span: float, ticks: int = 8) -> float:
    """A round tick interval (1, 2 or 5 × 10ⁿ) giving at most about ``ticks`` ticks."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    base = float(10 ** math.floor(math.log10(raw)))
    return next(m * base for m in (1, 2, 5, 10) if m * base >= raw)


def _n(x: float) -> str:
    return f"{x:.1f}"


def _axis(scale: Callable[[float], float], vmax: float, height: float, fmt: Callable[[float], str]) -> Html:
    step = nice_step(vmax)
    ticks = [i * step for i in range(int(vmax / step + 1e-9) + 1)] if vmax > 0 else [0.0]
    return el(
        "g",
        {"class_": "axis"},
        (
            el(
                "g",
                None,
                el("line", {"x1": _n(scale(t)), "x2": _n(scale(t)), "y1": AXIS_H - 4, "y2": _n(height)}),
                el("text", {"x": _n(scale(t)), "y": AXIS_H - 9, "text-anchor": "middle"}, fmt(t)),
            )
            for t in ticks
        ),
    )


def _parallel_bands(spans: Sequence[PhaseSpan], scale: Callable[[float], float]) -> list[Html]:
    """Shade the time two phases run at once, across both rows (the security ∥ story-loop fork)."""
    bands = []
    for i, a in enumerate(spans):
        for j in range(i + 1, len(spans)):
            b = spans[j]
            if a.start is None or b.start is None or a.end is None or b.end is None:
                continue
            lo, hi = max(a.start, b.start), min(a.end, b.end)
            if hi <= lo:
                continue
            y = AXIS_H + i * ROW_H + 2
            bands.append(
                el(
                    "rect",
                    {
                        "class_": "parallel",
                        "data_phases": f"{a.phase} {b.phase}",
                        "x": _n(scale(lo)),
                        "y": y,
                        "width": _n(max(scale(hi) - scale(lo), 1)),
                        "height": (j - i + 1) * ROW_H - 4,
                        "rx": 4,
                    },
                    el("title", None, f"{a.phase} ∥ {b.phase}: in parallel for {fmt_seconds(hi - lo)}"),
                )
            )
    return bands


def _gantt_row(span: PhaseSpan, y: float, scale: Callable[[float], float]) -> Html:
    mid = y + ROW_H / 2
    parts: list[Html] = [
        el("text", {"class_": "label", "x": LABEL_W - 8, "y": _n(mid + 4), "text-anchor": "end"}, span.phase)
    ]
    for seg in span.segments:
        x0, x1 = scale(seg.start), scale(seg.end)
        parts.append(
            el(
                "rect",
                {
                    "class_": f"seg seg-{seg.outcome}",
                    "x": _n(x0),
                    "y": _n(mid - BAR_H / 2),
                    "width": _n(max(x1 - x0, 2)),
                    "height": BAR_H,
                    "rx": 3,
                },
                el(
                    "title",
                    None,
                    f"{span.phase} · attempt {seg.attempt} · {seg.outcome} · "
                    f"+{seg.start:.2f} s → +{seg.end:.2f} s ({fmt_seconds(seg.end - seg.start)})",
                ),
            )
        )
    for g in span.gates:
        x, r = scale(g.at), 5.5
        points = f"{_n(x)},{_n(mid - r)} {_n(x + r)},{_n(mid)} {_n(x)},{_n(mid + r)} {_n(x - r)},{_n(mid)}"
        score = "" if g.score is None else f" · score {g.score:.1f}"
        parts.append(
            el(
                "polygon",
                {"class_": f"gate gate-{g.decision.lower()}", "points": points},
                el("title", None, f"{span.phase} gate · attempt {g.attempt} · {g.decision}{score}"),
            )
        )
    if span.start is not None and span.end is not None:
        parts.append(
            el(
                "text",
                {"class_": "dur", "x": _n(scale(span.end) + 8), "y": _n(mid + 4)},
                fmt_seconds(span.end - span.start),
            )
        )
    else:
        parts.append(el("text", {"class_": "dur muted", "x": LABEL_W + 6, "y": _n(mid + 4)}, "not started"))
    return el("g", {"class_": "gantt-row", "data_phase": span.phase, "data_outcome": span.outcome}, parts)


def gantt(spans: Sequence[PhaseSpan]) -> Html:
    """The phase timeline: one row per phase, bars per attempt, diamonds per gate evaluation."""
    vmax = max([s.end for s in spans if s.end is not None] + [0.0]) or 1.0
    height = AXIS_H + ROW_H * len(spans) + 6

    def scale(t: float) -> float:
        return LABEL_W + t / vmax * (WIDTH - LABEL_W - RIGHT_W)

    stripes = [
        el("rect", {"class_": "stripe", "x": 0, "y": AXIS_H + i * ROW_H, "width": WIDTH, "height": ROW_H})
        for i in range(0, len(spans), 2)
    ]
    return el(
        "svg",
        {
            "class_": "chart gantt",
            "viewBox": f"0 0 {WIDTH} {height}",
            "role": "img",
            "aria-label": f"Gantt chart of {len(spans)} phases",
            "xmlns": "http://www.w3.org/2000/svg",
        },
        stripes,
        _axis(scale, vmax, height - 6, lambda t: f"+{t:g} s" if t < 60 else fmt_seconds(t)),
        _parallel_bands(spans, scale),
        (_gantt_row(s, AXIS_H + i * ROW_H, scale) for i, s in enumerate(spans)),
    )


def stacked_bars(
    rows: Sequence[CostRow],
    phases: Sequence[str],
    value: Callable[[CostRow], float],
    fmt: Callable[[float], str],
    *,
    label: str,
) -> Html:
    """Horizontal bars per phase, stacked by model (colour classes ``model-N``)."""
    models = sorted({r.model for r in rows})
    present = [p for p in phases if any(r.phase == p for r in rows)]
    present += sorted({r.phase for r in rows} - set(present))
    totals = {p: sum(value(r) for r in rows if r.phase == p) for p in present}
    real_max = max(totals.values(), default=0.0)
    vmax = real_max or 1.0
    legend_h = 24
    height = legend_h + AXIS_H + ROW_H * len(present) + 6

    def scale(v: float) -> float:
        return LABEL_W + v / vmax * (WIDTH - LABEL_W - RIGHT_W - 20)

    legend = [
        el(
            "g",
            {"class_": "legend"},
            el(
                "rect",
                {
                    "class_": f"model-{i % MODEL_COLOURS}",
                    "x": LABEL_W + i * 190,
                    "y": 4,
                    "width": 12,
                    "height": 12,
                },
            ),
            el("text", {"x": LABEL_W + i * 190 + 18, "y": 14}, m),
        )
        for i, m in enumerate(models)
    ]
    body: list[Html] = []
    for i, phase in enumerate(present):
        y = legend_h + AXIS_H + i * ROW_H
        mid = y + ROW_H / 2
        x = scale(0)
        segs = []
        for k, model in enumerate(models):
            v = sum(value(r) for r in rows if r.phase == phase and r.model == model)
            w = scale(v) - scale(0)
            if v > 0:
                segs.append(
                    el(
                        "rect",
                        {
                            "class_": f"model-{k % MODEL_COLOURS}",
                            "x": _n(x),
                            "y": _n(mid - BAR_H / 2),
                            "width": _n(max(w, 1)),
                            "height": BAR_H,
                        },
                        el("title", None, f"{phase} · {model}: {fmt(v)}"),
                    )
                )
            x += w
        body.append(
            el(
                "g",
                {"class_": "bar-row", "data_phase": phase},
                el(
                    "text",
                    {"class_": "label", "x": LABEL_W - 8, "y": _n(mid + 4), "text-anchor": "end"},
                    phase,
                ),
                segs,
                el("text", {"class_": "dur", "x": _n(x + 8), "y": _n(mid + 4)}, fmt(totals[phase])),
            )
        )

    axis = el(
        "g", {"transform": f"translate(0 {legend_h})"}, _axis(scale, real_max, height - legend_h - 6, fmt)
    )
    return el(
        "svg",
        {
            "class_": "chart bars",
            "viewBox": f"0 0 {WIDTH} {height}",
            "role": "img",
            "aria-label": label,
            "xmlns": "http://www.w3.org/2000/svg",
        },
        legend,
        axis,
        body,
    )
