"""The ``offline`` LLM provider: a deterministic generator behind the provider interface."""

from __future__ import annotations

import math

from ideamine.canonical import canonical_json
from ideamine.errors import LLMError
from ideamine.llm.base import LLMRequest, LLMResult
from ideamine.llm.offline.registry import generate, supported_types

__all__ = ["OfflineProvider", "estimate_tokens"]

#: model name recorded with every artifact the offline provider makes
OFFLINE_MODEL = "offline"


def estimate_tokens(text: str) -> int:
    """ceil(len(text) / 4): the usual characters-per-token rule of thumb, not a tokenizer count."""
    return math.ceil(len(text) / 4)


class OfflineProvider:
    """Builds schema-valid, idea-specific artifacts from ``request.context`` without any network.

    Same request, same bytes: choices use an RNG seeded with SHA-256 of the idea text and the
    artifact type, so offline runs are reproducible and their artifacts can be hashed and
    compared. Token counts in the result are *estimates* (:func:`estimate_tokens` of the
    system + prompt and of the canonical JSON output) so budgets and dashboards still move;
    the cost is always 0.

    Generation is CPU-only and takes milliseconds per artifact, so it runs inline on the
    event loop rather than in a thread.
    """

    name = "offline"

    async def complete(self, request: LLMRequest) -> LLMResult:
        """Generate the artifact ``request.artifact_type`` from ``request.context``.

        Raises:
            LLMError: the offline model has no generator for the artifact type (not retryable).
        """
        if request.artifact_type not in supported_types():
            raise LLMError(
                f"the offline model cannot produce {request.artifact_type!r}",
                retryable=False,
                artifact_type=request.artifact_type,
            )
        content = generate(request.artifact_type, request.context, request.schema)
        output = canonical_json(content).decode("utf-8")
        return LLMResult(
            content=content,
            provider=self.name,
            model=OFFLINE_MODEL,
            input_tokens=estimate_tokens(request.system + request.prompt),
            output_tokens=estimate_tokens(output),
            cost_usd=0.0,
            extra={"token_counts": "estimated", "deterministic": True},
        )

    async def aclose(self) -> None:
        """Nothing to release."""
