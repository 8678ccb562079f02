"""Safe-by-construction HTML: every plain string is escaped, only :class:`Html` is not.

The report embeds untrusted text (the idea, agent output, gate findings), so escaping
must not depend on remembering to call ``escape``: :func:`el` escapes every child and
attribute value that is a plain ``str`` (or anything else), and passes through only
:class:`Html` values, which only this module and the renderers that build from
:func:`el` create. The same pattern as ``markupsafe.Markup``, in a few lines.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping

__all__ = ["Html", "el", "esc", "join", "VOID"]

#: elements that have no closing tag
VOID = frozenset({"br", "hr", "meta", "img", "input", "link"})


class Html(str):
    """A string of HTML that is already safe to insert verbatim."""

    __slots__ = ()


def esc(value: object) -> Html:
    """``value`` as escaped text (``Html`` passes through unchanged)."""
    if isinstance(value, Html):
        return value
    return Html(html.escape(str(value), quote=True))


def join(parts: Iterable[object], sep: str = "") -> Html:
    """Concatenate ``parts``, escaping each plain string."""
    return Html(sep.join(esc(p) for p in parts))


def _attrs(attrs: Mapping[str, object] | None) -> str:
    if not attrs:
        return ""
    out = []
    for name, value in attrs.items():
        if value is None or value is False:
            continue
        key = name.rstrip("_").replace("_", "-")
        out.append(f" {key}" if value is True else f' {key}="{esc(value)}"')
    return "".join(out)


def _children(children: Iterable[object]) -> str:
    parts: list[str] = []
    for child in children:
        if child is None:
            continue
        if isinstance(child, str | int | float):
            parts.append(esc(child))
        else:
            parts.append(_children(child))  # type: ignore[arg-type]
    return "".join(parts)


def el(tag: str, attrs: Mapping[str, object] | None = None, *children: object) -> Html:
    """One element: ``el("td", {"class_": "num"}, "42")`` → ``<td class="num">42</td>``.

    Attribute names drop a trailing underscore and turn ``_`` into ``-`` (``class_``,
    ``data_phase``); ``True`` renders a bare attribute, ``None``/``False`` omits it.
    Children may be strings, numbers, ``Html`` or (nested) iterables of those.
    """
    opening = f"<{tag}{_attrs(attrs)}>"
    if tag in VOID:
        return Html(opening)
    return Html(f"{opening}{_children(children)}</{tag}>")
