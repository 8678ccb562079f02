"""IdeaMine's own default hook implementations (registered by ``get_plugin_manager``).

Registered ``trylast`` so any plugin can override them.
"""

from __future__ import annotations

from typing import Any

from ideamine.guards import CompletenessGuard, IdIntegrityGuard
from ideamine.hookspecs import hookimpl


@hookimpl(trylast=True)
def ideamine_register_guards() -> list[Any]:
    """The built-in guards: completeness and id integrity."""
    return [CompletenessGuard(), IdIntegrityGuard()]


@hookimpl(trylast=True)
def ideamine_render_artifact(artifact_type: str, content: dict[str, Any], model: str) -> str | None:
    """The generic Markdown renderer for any artifact type."""
    from ideamine.render import render_markdown

    return str(render_markdown(artifact_type, content, model=model))
