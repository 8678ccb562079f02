"""Build a provider from its spec string (``offline``, ``anthropic``, ``replay:PATH``, ``record:PATH``).

The spec is what a run file, the CLI or the service config names; everything else a
provider needs (the API key above all) is passed in by the caller's config module —
nothing here reads the environment.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ideamine.errors import InvalidInput
from ideamine.llm.base import LLMProvider
from ideamine.llm.prices import PriceTable
from ideamine.llm.replay import RecordingProvider, ReplayProvider

if TYPE_CHECKING:  # the SDK takes seconds to import: only a process that uses it pays
    from ideamine.llm.anthropic_provider import AnthropicConfig

__all__ = ["make_provider", "PROVIDER_SPECS"]

#: the accepted spec forms, for help texts and error messages
PROVIDER_SPECS = ("offline", "anthropic", "replay:PATH", "record:PATH")


def make_provider(
    spec: str,
    *,
    anthropic: AnthropicConfig | None = None,
    prices: PriceTable | None = None,
    record_inner: str = "anthropic",
) -> LLMProvider:
    """Build the provider named by ``spec``.

    Args:
        spec: ``offline`` (deterministic, no network), ``anthropic`` (needs ``anthropic``),
            ``replay:PATH`` (answer from a cassette) or ``record:PATH`` (answer with
            ``record_inner`` and append each answer to the cassette at PATH).
        anthropic: settings of the Anthropic provider, API key included.
        prices: the price table (the shipped one by default).
        record_inner: what ``record:`` wraps (``anthropic`` or ``offline``).

    Raises:
        InvalidInput: unknown spec, empty path, or ``anthropic`` without its config.
    """
    kind, sep, arg = spec.partition(":")
    if kind in ("replay", "record"):
        if not sep or not arg:
            raise InvalidInput(f"provider {spec!r} needs a cassette path ({kind}:PATH)", field="llm.provider")
        if kind == "replay":
            return ReplayProvider(arg)
        if record_inner.partition(":")[0] in ("replay", "record"):
            raise InvalidInput(f"record: cannot wrap {record_inner!r}", field="llm.provider")
        inner = make_provider(record_inner, anthropic=anthropic, prices=prices)
        return RecordingProvider(inner, arg)
    if sep:
        raise InvalidInput(f"provider {spec!r} takes no argument", field="llm.provider")
    if kind == "offline":
        # imported lazily: the offline model is only loaded when chosen
        offline = importlib.import_module("ideamine.llm.offline")
        provider: LLMProvider = offline.OfflineProvider()
        return provider
    if kind == "anthropic":
        if anthropic is None or not anthropic.api_key:
            raise InvalidInput(
                "the anthropic provider needs an API key in its config", field="llm.anthropic.api_key"
            )
        from ideamine.llm.anthropic_provider import AnthropicProvider

        return AnthropicProvider(anthropic, prices=prices)
    raise InvalidInput(
        f"unknown LLM provider {spec!r}; expected one of {', '.join(PROVIDER_SPECS)}", field="llm.provider"
    )
