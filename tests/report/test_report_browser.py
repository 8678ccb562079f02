"""The HTML report in headless Chromium: it loads with no console errors and no network,
shows all 13 phases, its controls work, and hostile text stays text.

Chromium is Debian's ``chromium`` package (``scripts/services up`` installs it), driven
over the DevTools pipe (``tests/report/cdp.py``). Screenshots land in the test's
``tmp_path`` and, when ``IDEAMINE_REPORT_SCREENSHOTS`` names a directory, are copied there
for people to look at (with a full-page shot as well).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ideamine.catalogue import load_catalogue
from tests.report.cdp import Browser, chromium_path
from tests.report.support import XSS_IDEA, XSS_TITLE, report_of

CHROMIUM = chromium_path()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian package `chromium` is not installed and could not be: run `scripts/services up` as root",
)
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def pages(runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The healthcare and hostile-idea reports as files on disk."""
    base = tmp_path_factory.mktemp("report-pages")
    out = {}
    for name in ("healthcare", "xss"):
        out[name] = base / f"{name}.html"
        out[name].write_text(report_of(runs[name]), encoding="utf-8")
    return out


def _keep(*shots: Path) -> None:
    target = os.environ.get("IDEAMINE_REPORT_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for shot in shots:
            shutil.copy(shot, Path(target) / shot.name)


async def test_healthcare_report_renders_all_phases_without_errors_or_network(
    pages: dict[str, Path], tmp_path: Path
) -> None:
    assert CHROMIUM is not None
    page = pages["healthcare"]
    async with Browser(CHROMIUM) as b:
        await b.navigate(page.as_uri())
        rows = await b.evaluate(
            "[...document.querySelectorAll('svg.gantt g.gantt-row')].map(g => {"
            " const r = g.querySelector('rect.seg').getBoundingClientRect();"
            " return [g.dataset.phase, Math.round(r.width), Math.round(r.height)]; })"
        )
        assert [r[0] for r in rows] == list(load_catalogue().names)
        assert all(w >= 2 and h >= 10 for _, w, h in rows), rows  # every bar is actually drawn
        labels = await b.evaluate(
            "[...document.querySelectorAll('svg.gantt text.label')].map(t => t.textContent)"
        )
        assert labels == [r[0] for r in rows]
        band = await b.evaluate(
            "document.querySelector('svg.gantt rect.parallel').getBoundingClientRect().width"
        )
        assert band > 20  # security ∥ story-loop overlap is visible, not a hairline
        sections = await b.evaluate("[...document.querySelectorAll('main > section.card')].map(s => s.id)")
        assert sections == [
            "summary",
            "timeline",
            "gates",
            "cost",
            "traceability",
            "clarifications",
            "artifacts",
        ]
        top = await b.screenshot(tmp_path / "report-top.png")
        shots = [top]
        if os.environ.get("IDEAMINE_REPORT_SCREENSHOTS"):  # the whole page too, for people to read
            shots.append(await b.screenshot(tmp_path / "report-full.png", full_page=True))
        problems, urls = b.problems(), b.requested_urls()
    assert problems == []
    assert urls == [page.as_uri()]
    for shot in shots:
        data = shot.read_bytes()
        assert data.startswith(PNG) and len(data) > 20_000
    _keep(*shots)


async def test_artifact_filter_and_expand_controls_work(pages: dict[str, Path], tmp_path: Path) -> None:
    assert CHROMIUM is not None
    page = pages["healthcare"]
    async with Browser(CHROMIUM) as b:
        await b.navigate(page.as_uri())
        total = await b.evaluate("document.querySelectorAll('details.artifact').length")
        plans = await b.evaluate(
            "document.querySelectorAll('details.artifact[data-type=\"story-plan\"]').length"
        )
        shown = await b.evaluate(
            "(() => { const f = document.getElementById('artifact-filter'); f.value = 'story-plan';"
            " f.dispatchEvent(new Event('input'));"
            " return [document.querySelectorAll('details.artifact:not(.hidden)').length,"
            " document.getElementById('artifact-count').textContent]; })()"
        )
        assert 3 <= plans < total and shown == [plans, f"{plans} shown"]
        opened = await b.evaluate(
            "(() => { document.getElementById('expand-all').click();"
            " return document.querySelectorAll('details.artifact[open]').length; })()"
        )
        assert opened == plans
        height = await b.evaluate(
            "document.querySelector('details.artifact:not(.hidden) .body').getBoundingClientRect().height"
        )
        assert height > 50
        shot = await b.screenshot(tmp_path / "report-artifacts.png")
        problems = b.problems()
    assert problems == []
    _keep(shot)


async def test_hostile_markup_in_the_idea_is_shown_as_text_and_never_runs(
    pages: dict[str, Path], tmp_path: Path
) -> None:
    assert CHROMIUM is not None
    page = pages["xss"]
    async with Browser(CHROMIUM) as b:
        await b.send(
            "Page.addScriptToEvaluateOnNewDocument",
            {"source": "window.__alerts = 0; window.alert = () => { window.__alerts += 1; };"},
        )
        await b.navigate(page.as_uri())
        facts = await b.evaluate(
            "({alerts: window.__alerts, scripts: document.scripts.length, imgs: document.images.length,"
            " idea: document.getElementById('idea').textContent, h1: document.querySelector('h1').textContent,"
            " handlers: [...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length})"
        )
        shot = await b.screenshot(tmp_path / "report-xss.png")
        problems = b.problems()
    assert facts == {"alerts": 0, "scripts": 1, "imgs": 0, "idea": XSS_IDEA, "h1": XSS_TITLE, "handlers": 0}
    assert problems == []
    _keep(shot)
