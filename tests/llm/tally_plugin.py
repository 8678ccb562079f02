"""A third-party LLM provider plugin for the tests: ``--model tally[:PATH]``.

It answers like the offline model but under its own provider name (``tally``), and with
a PATH it appends one line per request to that file, so a test can see which provider a
run really used. Registered on a plugin manager as ``extra`` in process, or found as the
``tally`` entry point of a stand-in distribution on ``PYTHONPATH`` (see
``test_plugin_providers.py``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ideamine import InvalidInput, hookimpl
from ideamine.llm.base import LLMRequest, LLMResult
from ideamine.llm.offline import OfflineProvider


class TallyProvider:
    """Offline answers, relabelled ``tally``, each request counted in ``path`` (when given)."""

    name = "tally"

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self.calls = 0
        self._inner = OfflineProvider()

    async def complete(self, request: LLMRequest) -> LLMResult:
        self.calls += 1
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(f"{request.artifact_type}\n")
        result = await self._inner.complete(request)
        return dataclasses.replace(result, provider=self.name)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _tally(options: dict[str, Any]) -> TallyProvider:
    arg = options["arg"]
    if arg == "":
        raise InvalidInput("tally: PATH must not be empty (tally or tally:PATH)", field="llm.provider")
    return TallyProvider(arg)


@hookimpl
def ideamine_register_llm_providers() -> dict[str, Any]:
    return {"tally": _tally}
