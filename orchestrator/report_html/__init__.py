"""The self-contained HTML run report (``ideamine report DIR --html FILE``).

One HTML file with everything inline — stylesheet, a small script, SVG charts — so it
opens from disk or an e-mail attachment with no network: the phase timeline as a Gantt
chart, gate scores and findings per attempt, cost per phase and model, the traceability
matrix, questions and assumptions, and every artifact rendered.

Safety: artifacts, the idea and findings are untrusted text. Every page fragment is
built with :func:`.markup.el`, which escapes all plain strings, and artifact Markdown
goes through a converter that escapes everything (:mod:`.markdown`). As a second line,
a Content-Security-Policy allows only the report's own style and script (by hash), no
other script, no style attributes, and no network requests.

The page is a pure function of the store's content: rendering the same run twice gives
the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from ideamine.render import render_markdown
from ideamine.store.base import RunStore
from orchestrator.report_html import overview, review
from orchestrator.report_html.assets import CSS, JS
from orchestrator.report_html.data import ReportData, load_report_data
from orchestrator.report_html.markup import Html, el
from orchestrator.report_html.review import Renderer

__all__ = ["CSP", "Renderer", "build_html_report", "default_renderer", "render_page", "write_html_report"]


def default_renderer(artifact_type: str, content: dict[str, object], model: str) -> str:
    """The built-in generic Markdown renderer (what the default hook implementation uses)."""
    return render_markdown(artifact_type, content, model=model)


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


#: what the page may load or run: its own style and script (by hash), data: images, nothing else
CSP = (
    f"default-src 'none'; style-src {_csp_hash(CSS)}; script-src {_csp_hash(JS)}; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)


def render_page(data: ReportData, render: Renderer = default_renderer) -> str:
    """The complete HTML document for ``data``."""
    head = el(
        "head",
        None,
        el("meta", {"charset": "utf-8"}),
        el("meta", {"http-equiv": "Content-Security-Policy", "content": CSP}),
        el("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}),
        el("meta", {"name": "generator", "content": "IdeaMine"}),
        el("title", None, f"{data.run.title} — IdeaMine run report"),
        el("style", None, Html(CSS)),
    )
    ledger_head = data.events[-1].hash if data.events else "—"
    body = el(
        "body",
        None,
        overview.header(data),
        overview.nav(),
        el(
            "main",
            None,
            overview.summary(data),
            overview.timeline_section(data),
            review.gates_section(data),
            overview.cost_section(data),
            review.traceability_section(data),
            review.clarifications_section(data),
            review.artifacts_section(data, render),
        ),
        el(
            "footer",
            None,
            f"IdeaMine run report for run {data.run.id}, read from its store. Self-contained: viewing it needs no "
            f"network. Ledger head (SHA-256 of row {len(data.events)}): {ledger_head}",
        ),
        el("script", None, Html(JS)),
    )
    return "<!DOCTYPE html>\n" + el("html", {"lang": "en"}, head, body) + "\n"


async def build_html_report(store: RunStore, run_id: str, render: Renderer = default_renderer) -> str:
    """Read run ``run_id`` from ``store`` and return the report as one HTML document.

    Raises:
        NotFound: no such run.
    """
    return render_page(await load_report_data(store, run_id), render)


async def write_html_report(
    store: RunStore, run_id: str, path: Path, render: Renderer = default_renderer
) -> Path:
    """Write the report of ``run_id`` to ``path`` (parent directories are created)."""
    text = await build_html_report(store, run_id, render)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
