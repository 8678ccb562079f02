"""Hook specifications: every way a plugin extends IdeaMine.

Plugins implement these with ``@ideamine.hookimpl`` in a module listed under the
``ideamine.agents`` entry-point group (the 13 built-in agents use the same group). Hooks
are grouped by when they fire; each docstring says when, with what, and what it returns.
"""

from __future__ import annotations

from typing import Any

import pluggy

__all__ = ["hookspec", "hookimpl", "PROJECT_NAME"]

#: pluggy project name; also the prefix of every hook
PROJECT_NAME = "ideamine"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# --------------------------------------------------------------------------- registration
# Fired once, when a plugin manager is built (agent host start-up, ``ideamine run``,
# ``ideamine plugins list``). Not historic: plugins registered later are not asked.


@hookspec
def ideamine_register_agents() -> list[type[Any]]:  # type: ignore[empty-body]
    """Return agent classes this plugin provides.

    Fires once per plugin manager, after every plugin is loaded. Each class must satisfy
    :class:`ideamine.agents.Agent` (name, version, phase, tasks, consumes, schemas, an
    async ``run``). Results of all plugins are concatenated; two agents with the same
    name are a load error naming both plugins.

    Returns:
        A list of agent classes (may be empty).
    """


@hookspec
def ideamine_register_guards() -> list[Any]:  # type: ignore[empty-body]
    """Return guard objects that check a phase draft before its gate.

    Fires once per plugin manager. A guard has ``name: str`` and
    ``check(draft: ideamine.guards.Draft) -> list[ideamine.guards.Finding]``, where the
    draft holds the phase spec, the artifacts this attempt produced and those accepted
    earlier; a finding with ``blocking=True`` fails the gate and is named in its
    findings. Results are concatenated.

    Returns:
        A list of guard objects (may be empty).
    """


@hookspec
def ideamine_register_llm_providers() -> dict[str, Any]:  # type: ignore[empty-body]
    """Return extra LLM provider factories by name.

    Fires whenever a provider spec (``--model``, ``IDEAMINE_MODEL``) names a provider
    that is not built in: :func:`ideamine.llm.providers.make_provider` asks every plugin
    and picks the factory registered under the part of the spec before the first ``:``.
    Each value is a callable ``factory(options: dict) -> ideamine.llm.LLMProvider``,
    called with ``options = {"name": NAME, "arg": ARG or None, "spec": SPEC}`` for
    ``--model NAME[:ARG]``; it may raise :class:`ideamine.InvalidInput` for a bad ARG.
    Names match ``[a-z][a-z0-9_.-]*``. Built-in names (``offline``, ``anthropic``,
    ``replay``, ``record``) cannot be taken, and two plugins registering one name are a
    :class:`ideamine.PluginError` naming both.

    Returns:
        A mapping of provider name to factory (may be empty).
    """


# ------------------------------------------------------------------------------ rendering
# Fired whenever an artifact is rendered (``ideamine run --out``, RenderArtifact, reports).


@hookspec(firstresult=True)
def ideamine_render_artifact(artifact_type: str, content: dict[str, Any], model: str) -> str | None:
    """Render one artifact as Markdown.

    ``firstresult``: the first non-None answer wins; the built-in generic renderer is
    registered ``trylast`` so a plugin can render its own types (or override ours).

    Args:
        artifact_type: e.g. ``prd``.
        content: the artifact's JSON content (schema-valid).
        model: the model that produced it (``offline`` for the offline generator).

    Returns:
        Markdown text, or None to let another plugin render it.
    """
