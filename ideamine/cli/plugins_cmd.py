"""``ideamine plugins list``: every agent the plugin manager loads, and where it came from.

Agents come from the ``ideamine.agents`` entry-point group — IdeaMine's 13 built-ins and
any installed third party alike — so this is also how an operator checks that a plugin
was installed into the right environment. A plugin that fails to load exits 2 with one
line naming it (the same check ``ideamine serve agent-host`` does at start-up).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from importlib.metadata import entry_points

from ideamine.plugins import ENTRY_POINT_GROUP, AgentEntry, AgentRegistry, get_plugin_manager

__all__ = ["PluginRow", "plugin_rows", "register"]


@dataclass(frozen=True)
class PluginRow:
    """One agent as listed."""

    agent: str
    phase: str
    version: str
    tasks: tuple[str, ...]
    plugin: str  #: entry-point (plugin) name that registered it
    distribution: str  #: ``name version`` of the installed package providing it
    builtin: bool


def _distributions() -> dict[str, str]:
    """Plugin (entry-point) name → ``distribution version``."""
    found: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist
        found[ep.name] = f"{dist.name} {dist.version}" if dist is not None else "?"
    return found


def plugin_rows() -> list[PluginRow]:
    """Every loaded agent, in phase order.

    Raises:
        PluginError: a plugin failed to load or declares an agent wrongly.
    """
    dists = _distributions()

    def row(e: AgentEntry) -> PluginRow:
        return PluginRow(
            agent=e.name,
            phase=e.phase,
            version=e.version,
            tasks=tuple(e.cls.tasks),
            plugin=e.plugin,
            distribution=dists.get(e.plugin, "(not installed: registered in-process)"),
            builtin=e.builtin,
        )

    return [row(e) for e in AgentRegistry.from_plugin_manager(get_plugin_manager()).agents]


def _table(rows: list[PluginRow]) -> str:
    header = ("AGENT", "PHASE", "VERSION", "TASKS", "PLUGIN", "DISTRIBUTION")
    cells = [header] + [
        (r.agent, r.phase, r.version, ",".join(r.tasks), r.plugin, r.distribution) for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells
    )


def _list(args: argparse.Namespace) -> int:
    rows = plugin_rows()
    if args.json:
        print(json.dumps([{**r.__dict__, "tasks": list(r.tasks)} for r in rows], indent=2))
    else:
        print(_table(rows))
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``plugins`` command."""
    p = sub.add_parser("plugins", help="inspect agent plugins")
    psub = p.add_subparsers(dest="plugins_command", metavar="COMMAND", required=True)
    ls = psub.add_parser("list", help="list agents: phase, version, tasks, plugin and distribution")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.set_defaults(handler=_list)
