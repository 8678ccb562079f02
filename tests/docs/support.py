"""Reading the docs the way the tests need: sections, tables, marked code blocks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

#: ``<!-- docs-test: run -->``, ``<!-- docs-test: skip: why -->``, ``<!-- docs-test: plugin-module NAME -->``
_MARKER = re.compile(r"<!--\s*docs-test:\s*(?P<kind>[a-z-]+)(?::?\s*(?P<arg>.*?))?\s*-->")
_FENCE = re.compile(r"^```(?P<lang>[a-z]*)\s*$")


@dataclass(frozen=True)
class Block:
    """A fenced code block and the docs-test marker on the line before it (if any)."""

    doc: str
    line: int
    lang: str
    code: str
    marker: str | None
    arg: str


def read(name: str) -> str:
    """The text of ``docs/<name>``."""
    return (DOCS / name).read_text(encoding="utf-8")


def blocks(name: str) -> list[Block]:
    """Every fenced code block of ``docs/<name>``, in order."""
    lines = read(name).splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        start = i
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        prev = next((lines[k] for k in range(start - 1, -1, -1) if lines[k].strip()), "")
        mark = _MARKER.search(prev)
        out.append(
            Block(
                doc=name,
                line=start + 1,
                lang=m.group("lang"),
                code="\n".join(lines[start + 1 : j]) + "\n",
                marker=mark.group("kind") if mark else None,
                arg=(mark.group("arg") or "").strip() if mark else "",
            )
        )
        i = j + 1
    return out


def section(text: str, heading: str) -> str:
    """The body of the section whose heading line is ``heading``, up to the next heading of its level or above."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = text.splitlines()
    try:
        start = lines.index(heading)
    except ValueError:
        return ""
    body = []
    for line in lines[start + 1 :]:
        m = re.match(r"^(#+)\s", line)
        if m and len(m.group(1)) <= level:
            break
        body.append(line)
    return "\n".join(body)


def table_rows(text: str, first_cell: str) -> dict[str, list[str]]:
    """Rows of Markdown tables whose first cell matches ``first_cell`` (a regex), keyed by that cell."""
    rows = {}
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if cells and re.fullmatch(first_cell, cells[0]):
            rows[cells[0]] = cells
    return rows
