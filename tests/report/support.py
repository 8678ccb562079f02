"""Runs for the report tests: real embedded runs (SQLite, in-process queue, offline model).

A run directory made here looks exactly like one ``ideamine run --out DIR`` leaves
(``run.json`` + ``ideamine.sqlite3``), so the CLI tests read it the way a user would.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from ideamine.embedded import DB_FILE, EmbeddedRuntime
from ideamine.llm.offline import OfflineProvider
from ideamine.runfile import load_run_file, parse_run_request
from ideamine.store.sqlite import open_sqlite
from orchestrator.report_html import build_html_report

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "orchestrations"

#: an idea that tries to break out of every context the report puts text in
XSS_IDEA = (
    "A tiny booking tool for yoga studios <script>alert(1)</script> with waitlists "
    "</svg><img src=x onerror=alert(2)> and \"quotes\" 'single' & ampersands </textarea><!-- "
    "| table | cell | `code` **bold** [link](javascript:alert(3)) <br> end"
)
XSS_TITLE = "<script>alert('title')</script></title><img src=x onerror=alert(4)>"


async def make_run(out: Path, request: Any, *, extra: tuple[Any, ...] = ()) -> str:
    """Drive ``request`` to its end in ``out`` (a run directory); returns the run id."""
    out.mkdir(parents=True, exist_ok=True)
    async with EmbeddedRuntime(db_path=out / DB_FILE, provider=OfflineProvider(), extra_plugins=extra) as rt:
        run = await rt.submit(request)
        (out / "run.json").write_text(
            json.dumps({"run_id": run.id, "model": "offline"}) + "\n", encoding="utf-8"
        )
        await rt.drive(run.id)
    return run.id


def example_request(name: str, **overrides: Any) -> Any:
    """A run request from ``examples/orchestrations/<name>``, with fields replaced."""
    request = load_run_file(str(EXAMPLES / name))
    return replace(request, **overrides) if overrides else request


def xss_request() -> Any:
    """A request whose idea and title are hostile markup; intake and ideation only (quick)."""
    return parse_run_request({"idea": XSS_IDEA, "title": XSS_TITLE, "phases": ["ideation"]})


def report_of(out: Path) -> str:
    """Render the report of the run in directory ``out``."""

    async def build() -> str:
        store = await open_sqlite(out / DB_FILE)
        try:
            run_id = json.loads((out / "run.json").read_text(encoding="utf-8"))["run_id"]
            return await build_html_report(store, run_id)
        finally:
            await store.close()

    return asyncio.run(build())


class Page(HTMLParser):
    """The parsed report: elements with attributes, and the text as a reader sees it."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text_parts: list[str] = []
        self._skip = 0
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text_parts.append(data)

    @property
    def text(self) -> str:
        """All visible text, concatenated."""
        return "".join(self.text_parts)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        """Attributes of every ``tag`` whose attributes include ``attrs`` (``class_`` matches one class)."""
        out = []
        for t, a in self.elements:
            if t != tag:
                continue
            ok = True
            for k, v in attrs.items():
                if k == "class_":
                    ok = ok and v in a.get("class", "").split()
                else:
                    ok = ok and a.get(k.replace("_", "-")) == v
            if ok:
                out.append(a)
        return out
