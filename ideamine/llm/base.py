"""Provider-neutral request and result types of the LLM layer.

A request carries both what a network model needs (``system``, ``prompt``, the
artifact's JSON Schema used as the tool's input schema) and the structured ``context``
the prompt was built from. The offline model works from ``context`` alone; the replay
provider keys cassettes by :meth:`LLMRequest.request_hash`.

``context`` keys (all optional except ``idea``):

- ``idea``: ``{"text": str, "title": str | None, "constraints": {...}}`` — the run's input.
- ``artifacts``: ``{artifact_type: content}`` — accepted upstream artifacts of the run
  (and earlier tasks of the same phase), latest version of each type.
- ``artifact_index``: ``[{"id", "type", "phase", "sha256"}]`` — every accepted artifact so far.
- ``story``: the user story (from ``user-stories``) a per-story task works on.
- ``feedback``: ``[str]`` — findings of the previous gate attempt, targeted at this task.
- ``answers``: ``[{"question", "answer", "status"}]`` — accepted Q/A answers and assumptions.
- ``phase``, ``task``: the phase name and task key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ideamine.canonical import content_hash

__all__ = ["LLMRequest", "LLMResult", "LLMProvider"]


@dataclass(frozen=True)
class LLMRequest:
    """One structured-output request: produce one artifact of ``artifact_type``."""

    agent: str
    phase: str
    artifact_type: str
    schema: Mapping[str, Any]
    system: str
    prompt: str
    context: Mapping[str, Any]
    model: str | None = None
    max_tokens: int = 4096
    #: validation errors of the previous try, fed back for a repair attempt
    repair_errors: tuple[str, ...] = ()

    def request_hash(self) -> str:
        """SHA-256 of the canonical request (what replay cassettes are keyed by)."""
        return content_hash(
            {
                "agent": self.agent,
                "phase": self.phase,
                "artifact_type": self.artifact_type,
                "schema": self.schema,
                "system": self.system,
                "prompt": self.prompt,
                "context": self.context,
                "model": self.model,
                "max_tokens": self.max_tokens,
                "repair_errors": list(self.repair_errors),
            }
        )


@dataclass(frozen=True)
class LLMResult:
    """What a provider returned for one request (content not yet schema-validated)."""

    content: Any
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: float = 0.0
    request_id: str | None = None
    #: provider-specific extras safe to store (stop reason, cache tokens)
    extra: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class LLMProvider(Protocol):
    """A model backend: built-ins live in ``ideamine/llm/``, plugins add others.

    Only the metered client (``ideamine.llm.client``) calls one; agents never see it.
    """

    #: short provider name recorded with every call (``anthropic``, ``offline``, ``replay``, a plugin's)
    name: str

    async def complete(self, request: LLMRequest) -> LLMResult:
        """Answer one request; raise an :mod:`ideamine.errors` LLM error on failure."""
        ...

    async def aclose(self) -> None:
        """Release network resources (idempotent)."""
        ...
