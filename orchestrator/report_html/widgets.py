"""Building blocks shared by the report's sections: cards, tables, numbers, score meters."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from orchestrator.report_html.markup import Html, el

__all__ = ["card", "table", "usd", "ids", "meter"]


def card(anchor: str, title: str, *body: object) -> Html:
    """A section of the page with its navigation anchor."""
    return el("section", {"class_": "card", "id": anchor}, el("h2", None, title), body)


def table(
    head: Sequence[str],
    rows: Iterable[Sequence[object]] = (),
    *,
    num: Sequence[int] = (),
    nowrap: Sequence[int] = (0,),
    row_class: Callable[[int], str | None] | None = None,
    body: Iterable[Html] | None = None,
    table_class: str | None = None,
) -> Html:
    """A scrollable table: cells from ``rows``, or ready-made ``<tr>`` elements as ``body``.

    Args:
        head: column titles.
        rows: cell values per row (escaped unless ``Html``).
        num: columns right-aligned as numbers.
        nowrap: columns that never wrap (ids).
        row_class: class of row ``n``, e.g. to highlight gaps.
        body: pre-built rows instead of ``rows``.
        table_class: class of the ``<table>``.
    """

    def cls(i: int) -> str | None:
        return " ".join(c for c, on in (("num", i in num), ("nowrap", i in nowrap)) if on) or None

    if body is None:
        body = (
            el(
                "tr",
                {"class_": row_class(n) if row_class else None},
                (el("td", {"class_": cls(i)}, c) for i, c in enumerate(row)),
            )
            for n, row in enumerate(rows)
        )
    thead = el("thead", None, el("tr", None, (el("th", {"class_": cls(i)}, h) for i, h in enumerate(head))))
    return el(
        "div", {"class_": "table-wrap"}, el("table", {"class_": table_class}, thead, el("tbody", None, body))
    )


def usd(v: float) -> str:
    """Dollars: four decimals under a dollar (so cents of a cent show), two above."""
    return f"${v:,.4f}" if 0 < v < 1 else f"${v:,.2f}"


def ids(values: Iterable[object]) -> str:
    """A comma-separated id list, or an em dash for none."""
    return ", ".join(str(v) for v in values) or "—"


def meter(score: float, min_score: float | None) -> Html:
    """A small bar of ``score`` out of 100 with a tick at the gate's minimum."""
    width = 120
    parts = [
        el("rect", {"class_": "track", "x": 0, "y": 0, "width": width, "height": 10, "rx": 3}),
        el(
            "rect",
            {
                "class_": "fill" if min_score is None or score >= min_score else "fill low",
                "x": 0,
                "y": 0,
                "width": f"{width * max(0.0, min(score, 100.0)) / 100:.1f}",
                "height": 10,
                "rx": 3,
            },
        ),
    ]
    if min_score is not None:
        x = f"{width * min_score / 100:.1f}"
        parts.append(
            el(
                "line",
                {"class_": "min", "x1": x, "x2": x, "y1": -2, "y2": 12},
                el("title", None, f"minimum {min_score:g}"),
            )
        )
    return el(
        "svg",
        {
            "class_": "meter",
            "width": width,
            "height": 10,
            "viewBox": f"0 -2 {width} 14",
            "aria-hidden": "true",
        },
        parts,
    )
