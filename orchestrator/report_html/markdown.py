"""A small Markdown-subset to HTML converter for rendered artifacts.

Artifact renderers (``ideamine_render_artifact``; the built-in one is
:func:`ideamine.render.render_markdown`) produce Markdown, which may carry untrusted text
from the idea and the models. This converter understands exactly the subset those
renderers emit — ATX headings, paragraphs with hard breaks, ``**bold**``, ``_emphasis_``,
`` `code` ``, ``-`` bullet lists, ``>`` block quotes and pipe tables (with ``\\|`` and
``<br>`` inside cells) — and treats everything else as text. It never passes input
through: every character is escaped by :mod:`.markup`, so raw HTML, links and images in
artifact text show up literally instead of being interpreted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from orchestrator.report_html.markup import Html, el, join

__all__ = ["markdown_to_html"]

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_TABLE_SEP = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_INLINE = re.compile(r"`([^`]+)`|\*\*(.+?)\*\*|(?<![\w])_(.+?)_(?![\w])")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)


def inline(text: str) -> Html:
    """Escape ``text`` and apply the inline subset (code, bold, emphasis)."""
    parts: list[object] = []
    pos = 0
    for m in _INLINE.finditer(text):
        parts.append(text[pos : m.start()])
        code, bold, em = m.groups()
        if code is not None:
            parts.append(el("code", None, code))
        elif bold is not None:
            parts.append(el("strong", None, inline(bold)))
        else:
            parts.append(el("em", None, inline(em)))
        pos = m.end()
    parts.append(text[pos:])
    return join(parts)


def _cells(line: str) -> list[str]:
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    return [c.strip().replace("\\|", "|") for c in _CELL_SPLIT.split(body)]


def _cell(text: str) -> Html:
    pieces = _BR.split(text)
    return join(inline(p) if i == 0 else join([el("br"), inline(p)]) for i, p in enumerate(pieces))


def _table(lines: list[str]) -> Html:
    head, rows = _cells(lines[0]), [_cells(r) for r in lines[2:]]
    thead = el("thead", None, el("tr", None, (el("th", None, _cell(c)) for c in head)))
    tbody = el(
        "tbody",
        None,
        (
            el("tr", None, (el("td", None, _cell(c)) for c in row + [""] * (len(head) - len(row))))
            for row in rows
        ),
    )
    return el("div", {"class_": "table-wrap"}, el("table", None, thead, tbody))


def _paragraph(lines: list[str]) -> Html:
    parts: list[object] = []
    for i, line in enumerate(lines):
        hard_break = line.endswith("  ") and i < len(lines) - 1
        parts.append(inline(line.strip()))
        parts.append(el("br") if hard_break else (" " if i < len(lines) - 1 else ""))
    return el("p", None, parts)


def _blocks(lines: list[str], heading_offset: int) -> Iterator[Html]:
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if m := _HEADING.match(line):
            level = min(len(m.group(1)) + heading_offset, 6)
            yield el(f"h{level}", None, inline(m.group(2)))
            i += 1
            continue
        if line.lstrip().startswith("|") and i + 1 < len(lines) and _TABLE_SEP.match(lines[i + 1]):
            j = i + 2
            while j < len(lines) and lines[j].lstrip().startswith("|"):
                j += 1
            yield _table(lines[i:j])
            i = j
            continue
        j = i
        if line.startswith(">"):
            while j < len(lines) and lines[j].startswith(">"):
                j += 1
            inner = [entry[1:].removeprefix(" ") for entry in lines[i:j]]
            yield el("blockquote", None, _blocks(inner, heading_offset))
        elif re.match(r"^\s*[-*]\s+", line):
            while j < len(lines) and re.match(r"^\s*[-*]\s+", lines[j]):
                j += 1
            items = (re.sub(r"^\s*[-*]\s+", "", entry) for entry in lines[i:j])
            yield el("ul", None, (el("li", None, inline(item)) for item in items))
        else:
            while j < len(lines) and lines[j].strip() and not _starts_block(lines, j):
                j += 1
            yield _paragraph(lines[i:j])
        i = j


def _starts_block(lines: list[str], j: int) -> bool:
    line = lines[j]
    return bool(
        _HEADING.match(line)
        or line.startswith(">")
        or re.match(r"^\s*[-*]\s+", line)
        or (line.lstrip().startswith("|") and j + 1 < len(lines) and _TABLE_SEP.match(lines[j + 1]))
    )


def markdown_to_html(text: str, *, heading_offset: int = 0) -> Html:
    """Convert ``text`` (the renderers' Markdown subset) to escaped HTML.

    Args:
        text: Markdown, possibly containing untrusted text; nothing in it is trusted.
        heading_offset: added to every heading level (capped at ``h6``), so an artifact's
            ``#`` title nests under the report's own headings.

    Returns:
        HTML in which every character of ``text`` outside the subset's markers is escaped.
    """
    return join(_blocks(text.replace("\r\n", "\n").split("\n"), heading_offset))
