"""The generation context: the request's ``context`` plus the idea analysis and a seeded RNG.

Generators read upstream artifacts through :meth:`Ctx.upstream`: the accepted artifact from
``context["artifacts"]`` when the engine supplied it, otherwise the same deterministic
generator's output for that type (memoised per request). Either way later artifacts
reference ids that exist, which is what lets the offline pipeline pass its gates.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ideamine.llm.offline.analysis import Analysis, analyse

__all__ = ["Ctx", "JSON", "seq", "FEEDBACK_ID"]

#: a JSON object as the generators build it
JSON = dict[str, Any]

#: any IdeaMine id a gate finding may name
FEEDBACK_ID = re.compile(r"\b(?:FR|NFR|ST|AC|EP|RSK|ADR|CMP|ENT|API|THR|CTL|TC|UC|CRT|ASM|UX|STC)-\d{2,3}\b")


def seq(prefix: str, n: int, width: int = 3) -> str:
    """``seq("FR", 7) → "FR-007"``."""
    return f"{prefix}-{n:0{width}d}"


class Ctx:
    """One generation: the artifact type, the request context and everything derived from it."""

    def __init__(
        self, artifact_type: str, context: Mapping[str, Any], memo: dict[str, JSON] | None = None
    ) -> None:
        self.type = artifact_type
        self.context = context
        idea = context.get("idea")
        self.idea: Mapping[str, Any] = idea if isinstance(idea, Mapping) else {"text": str(idea or "")}
        self.a: Analysis = analyse(self.idea)
        arts = context.get("artifacts")
        self.artifacts: Mapping[str, Any] = arts if isinstance(arts, Mapping) else {}
        story = context.get("story")
        self.story: Mapping[str, Any] | None = story if isinstance(story, Mapping) else None
        self.feedback: tuple[str, ...] = tuple(str(f) for f in context.get("feedback") or ())
        index = context.get("artifact_index")
        self.index: Sequence[Mapping[str, Any]] = index if isinstance(index, list) else []
        self._memo = memo if memo is not None else {}

    def rng(self, salt: str = "") -> random.Random:
        """A RNG seeded with SHA-256(idea text + artifact type [+ salt]): same input, same choices."""
        digest = hashlib.sha256(f"{self.a.text}\0{self.type}\0{salt}".encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def upstream(self, artifact_type: str) -> JSON:
        """The upstream artifact: supplied by the engine, or generated here from the same idea."""
        supplied = self.artifacts.get(artifact_type)
        if isinstance(supplied, Mapping):
            return dict(supplied)
        if artifact_type not in self._memo:
            from ideamine.llm.offline.registry import produce  # local: the registry imports this module

            base = {"idea": self.idea, "artifacts": self.artifacts, "artifact_index": list(self.index)}
            self._memo[artifact_type] = produce(Ctx(artifact_type, base, self._memo))
        return self._memo[artifact_type]

    def derived(self) -> dict[str, JSON]:
        """Upstream artifacts this request generated itself (none supplied by the engine)."""
        return dict(self._memo)

    def items(self, artifact_type: str, key: str) -> list[Mapping[str, Any]]:
        """The objects under ``key`` of an upstream artifact."""
        value = self.upstream(artifact_type).get(key)
        return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []

    @property
    def flagged(self) -> frozenset[str]:
        """Ids the previous gate attempt's findings named: the generator gives them extra care."""
        return frozenset(m for f in self.feedback for m in FEEDBACK_ID.findall(f))

    def pick(self, options: Sequence[str], salt: str = "") -> str:
        """A deterministic choice among ``options``."""
        return options[self.rng(salt).randrange(len(options))]
