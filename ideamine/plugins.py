"""Plugin loading: the explicit plugin-manager factory and the agent registry.

No plugin manager exists at import time. :func:`get_plugin_manager` adds the hook specs,
registers IdeaMine's own default hook implementations (generic Markdown renderer,
built-in guards), loads the ``ideamine.agents`` entry-point group — where the 13
built-in agents are declared exactly as a third party declares its own — registers any
``extra`` plugin objects, then calls ``check_pending()``.

:class:`AgentRegistry` turns the registered agent classes into the per-phase task plan
the engine dispatches: catalogue tasks first (a third-party agent that handles a
catalogue task replaces the built-in one), then extension tasks declared by plugins.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, cast

import pluggy
from jsonschema import Draft202012Validator

from ideamine import hookspecs
from ideamine.agents import TaskDecl
from ideamine.canonical import json_problems
from ideamine.catalogue import Catalogue, load_catalogue
from ideamine.errors import PluginError

__all__ = [
    "ENTRY_POINT_GROUP",
    "BUILTIN_PREFIX",
    "ANY_PHASE",
    "get_plugin_manager",
    "AgentEntry",
    "PlannedTask",
    "AgentRegistry",
]

#: entry-point group every agent plugin (built-in or third-party) is declared under
ENTRY_POINT_GROUP = "ideamine.agents"
#: module prefix of the built-in plugins shipped with IdeaMine
BUILTIN_PREFIX = "plugins."
#: the ``phase`` of an agent that serves every phase outside the phase plans (e.g. the clarifier)
ANY_PHASE = "*"


def _load_entry_point(pm: pluggy.PluginManager, ep: EntryPoint) -> None:
    if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
        return
    try:
        plugin = ep.load()
    except Exception as exc:  # a plugin raising on import must name itself, not crash us
        raise PluginError(f"failed to load ({type(exc).__name__}: {exc})", plugin=ep.name) from exc
    pm.register(plugin, name=ep.name)


def get_plugin_manager(*, load_entrypoints: bool = True, extra: Iterable[Any] = ()) -> pluggy.PluginManager:
    """Build a plugin manager with specs, defaults, entry-point plugins and ``extra``.

    Args:
        load_entrypoints: load the ``ideamine.agents`` group (built-ins and third parties).
        extra: further plugin objects (modules or instances) to register, e.g. in tests.

    Raises:
        PluginError: a plugin failed to import or has hooks that match no spec.
    """
    from ideamine import defaults  # registered explicitly: not an agent, always present

    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    pm.register(defaults, name="ideamine.defaults")
    if load_entrypoints:
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            _load_entry_point(pm, ep)
    for i, plugin in enumerate(extra):
        pm.register(plugin, name=getattr(plugin, "__name__", None) or f"extra-{i}")
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(str(exc), plugin=getattr(exc.plugin, "__name__", str(exc.plugin))) from exc
    return pm


@dataclass(frozen=True)
class AgentEntry:
    """A registered agent class and where it came from."""

    cls: type[Any]
    plugin: str  #: plugin (entry point) name that registered it
    builtin: bool

    @property
    def name(self) -> str:
        """The agent's name."""
        return str(self.cls.name)

    @property
    def version(self) -> str:
        """The agent's version."""
        return str(self.cls.version)

    @property
    def phase(self) -> str:
        """The phase the agent works in."""
        return str(self.cls.phase)


@dataclass(frozen=True)
class PlannedTask:
    """One task of a phase plan: which agent runs which task key."""

    key: str
    agent: str
    agent_version: str
    produces: tuple[str, ...]
    after: tuple[str, ...]
    per_story: bool
    extension: bool  #: declared by a plugin, not by the catalogue


def _validate_agent(cls: Any, plugin: str, catalogue: Catalogue) -> None:
    for attr in ("name", "version", "phase", "tasks", "schemas"):
        if not getattr(cls, attr, None):
            raise PluginError(f"agent class {cls!r} has no {attr!r}", plugin=plugin)
    if not inspect.iscoroutinefunction(getattr(cls, "run", None)):
        raise PluginError(f"agent {cls.name!r}: run() must be an async method", plugin=plugin)
    if cls.phase == ANY_PHASE:
        catalogue_keys = {}
    elif cls.phase in catalogue.names:
        catalogue_keys = {t.key: t for t in catalogue.phase(cls.phase).tasks}
    else:
        raise PluginError(f"agent {cls.name!r} names unknown phase {cls.phase!r}", plugin=plugin)
    for key, decl in cls.tasks.items():
        if not isinstance(decl, TaskDecl):
            raise PluginError(f"agent {cls.name!r}: task {key!r} must be a TaskDecl", plugin=plugin)
        if key in catalogue_keys and tuple(decl.produces) != catalogue_keys[key].produces:
            raise PluginError(
                f"agent {cls.name!r}: task {key!r} must produce {list(catalogue_keys[key].produces)} "
                f"as the catalogue says, not {list(decl.produces)}",
                plugin=plugin,
            )
        for artifact_type in decl.produces:
            schema = cls.schemas.get(artifact_type)
            if not isinstance(schema, Mapping) or schema.get("type") != "object":
                raise PluginError(
                    f"agent {cls.name!r}: no JSON Schema (type object) for artifact {artifact_type!r}",
                    plugin=plugin,
                )


class AgentRegistry:
    """Agents by name and the task plan of every phase."""

    def __init__(self, entries: Iterable[AgentEntry], catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._by_name: dict[str, AgentEntry] = {}
        self._validators: dict[str, Callable[[str, Any], list[str]]] = {}
        for e in entries:
            _validate_agent(e.cls, e.plugin, catalogue)
            if e.name in self._by_name:
                other = self._by_name[e.name].plugin
                raise PluginError(
                    f"agent name {e.name!r} is also registered by plugin {other!r}", plugin=e.plugin
                )
            self._by_name[e.name] = e

    @classmethod
    def from_plugin_manager(
        cls, pm: pluggy.PluginManager, catalogue: Catalogue | None = None
    ) -> AgentRegistry:
        """Collect ``ideamine_register_agents`` results of every plugin."""
        entries: list[AgentEntry] = []
        for impl in pm.hook.ideamine_register_agents.get_hookimpls():
            plugin_name = pm.get_name(impl.plugin) or str(impl.plugin)
            try:
                classes: list[Any] = list(cast(Iterable[Any], impl.function() or []))
            except Exception as exc:
                raise PluginError(
                    f"ideamine_register_agents raised {type(exc).__name__}: {exc}", plugin=plugin_name
                ) from exc
            module = getattr(impl.plugin, "__name__", "")
            for c in classes:
                entries.append(
                    AgentEntry(cls=c, plugin=plugin_name, builtin=module.startswith(BUILTIN_PREFIX))
                )
        return cls(entries, catalogue or load_catalogue())

    @property
    def agents(self) -> list[AgentEntry]:
        """Every registered agent, sorted by phase order then name."""
        order = {n: i for i, n in enumerate(self.catalogue.names)}
        return sorted(self._by_name.values(), key=lambda e: (order.get(e.phase, len(order)), e.name))

    def get(self, name: str) -> AgentEntry:
        """The agent called ``name`` (KeyError when unknown)."""
        return self._by_name[name]

    def plan(self, phase: str) -> list[PlannedTask]:
        """The tasks of ``phase``: each catalogue task with its agent, then extension tasks.

        Raises:
            PluginError: a catalogue task has no agent registered for it.
        """
        spec = self.catalogue.phase(phase)
        in_phase = [e for e in self._by_name.values() if e.phase == phase]
        # third-party agents first, so they replace built-ins for the same task key
        in_phase.sort(key=lambda e: (e.builtin, e.name))
        planned: list[PlannedTask] = []
        for t in spec.tasks:
            owner = next((e for e in in_phase if t.key in e.cls.tasks), None)
            if owner is None:
                raise PluginError(f"no agent handles task {t.key!r} of phase {phase!r}", plugin="(catalogue)")
            planned.append(
                PlannedTask(
                    t.key, owner.name, owner.version, t.produces, t.after, t.per_story, extension=False
                )
            )
        catalogue_keys = {t.key for t in spec.tasks}
        for e in in_phase:
            for key, decl in e.cls.tasks.items():
                if key not in catalogue_keys:
                    planned.append(
                        PlannedTask(
                            key, e.name, e.version, decl.produces, decl.after, decl.per_story, extension=True
                        )
                    )
        return planned

    def schema(self, agent: str, artifact_type: str) -> Mapping[str, Any]:
        """The JSON Schema ``agent`` declared for ``artifact_type``."""
        return dict(self._by_name[agent].cls.schemas[artifact_type])

    def validator(self, agent: str) -> Callable[[str, Any], list[str]]:
        """``validate(artifact_type, content) -> errors`` against the schemas ``agent`` declared.

        Extension artifact types are checked against the plugin's own schema, so a
        third-party agent's output is held to exactly what it declared.
        """
        cached = self._validators.get(agent)
        if cached is not None:
            return cached
        validators = {t: Draft202012Validator(s) for t, s in self._by_name[agent].cls.schemas.items()}

        def validate(artifact_type: str, content: Any) -> list[str]:
            v = validators.get(artifact_type)
            if v is None:
                return [f"$: agent {agent!r} declares no schema for {artifact_type!r}"]
            problems = json_problems(content)  # first: the schema walk must not meet them
            if problems:
                return problems
            return sorted(f"{e.json_path}: {e.message[:300]}" for e in v.iter_errors(content))

        self._validators[agent] = validate
        return validate
