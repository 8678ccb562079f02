"""Build a provider from its spec string (``offline``, ``anthropic``, ``replay:PATH``, ``record:PATH``,
or ``NAME[:ARG]`` of a plugin's provider).

The spec is what a run file, the CLI or the service config names; everything else a
provider needs (the API key above all) is passed in by the caller's config module —
nothing here reads the environment.

Built-in names are resolved first, here, and plugins' providers
(``ideamine_register_llm_providers``) only for every other name. Built-ins are not
registered through the hook on purpose: they take typed settings (the Anthropic API key,
the price table) that must never pass through an untyped options mapping a plugin
could see, and a plugin must not be able to shadow ``anthropic`` and receive its key —
so a plugin that registers a built-in name is a :class:`~ideamine.errors.PluginError`.
Offline and replay runs also never pay for loading entry points.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ideamine.errors import IdeaMineError, InvalidInput, PluginError
from ideamine.llm.base import LLMProvider
from ideamine.llm.prices import PriceTable
from ideamine.llm.replay import RecordingProvider, ReplayProvider

if TYPE_CHECKING:  # the SDK takes seconds to import: only a process that uses it pays
    import pluggy

    from ideamine.llm.anthropic_provider import AnthropicConfig

__all__ = [
    "BUILTIN_PROVIDERS",
    "PROVIDER_SPECS",
    "ProviderFactory",
    "check_spec",
    "make_provider",
    "plugin_providers",
]

#: the accepted built-in spec forms, for help texts and error messages
PROVIDER_SPECS = ("offline", "anthropic", "replay:PATH", "record:PATH")
#: names no plugin may register
BUILTIN_PROVIDERS = frozenset(s.partition(":")[0] for s in PROVIDER_SPECS)
#: what a plugin's provider may be called (the part of ``--model`` before the first ``:``)
_NAME_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")

#: ``factory(options) -> LLMProvider``; options: ``name``, ``arg`` (text after ``:`` or None), ``spec``
ProviderFactory = Callable[[dict[str, Any]], LLMProvider]


def plugin_providers(pm: pluggy.PluginManager) -> dict[str, ProviderFactory]:
    """Collect the provider factories every plugin registers, by name.

    Each plugin's hook implementation is called on its own so a bad answer names the
    plugin that gave it.

    Raises:
        PluginError: a hook raised or returned something other than a mapping of valid
            names to callables, a name is built in, or two plugins register one name.
    """
    found: dict[str, tuple[ProviderFactory, str]] = {}
    for impl in pm.hook.ideamine_register_llm_providers.get_hookimpls():
        plugin = pm.get_name(impl.plugin) or str(impl.plugin)
        try:
            answer = impl.function()
        except Exception as exc:
            raise PluginError(
                f"ideamine_register_llm_providers raised {type(exc).__name__}: {exc}", plugin=plugin
            ) from exc
        if not isinstance(answer, Mapping):
            raise PluginError("ideamine_register_llm_providers must return a dict", plugin=plugin)
        for name, factory in answer.items():
            if not isinstance(name, str) or not _NAME_RE.match(name):
                raise PluginError(f"LLM provider name {name!r} is not [a-z][a-z0-9_.-]*", plugin=plugin)
            if name in BUILTIN_PROVIDERS:
                raise PluginError(f"LLM provider {name!r} is built in and cannot be replaced", plugin=plugin)
            if name in found:
                raise PluginError(
                    f"LLM provider {name!r} is also registered by {found[name][1]!r}", plugin=plugin
                )
            if not callable(factory):
                raise PluginError(f"LLM provider {name!r}: the factory is not callable", plugin=plugin)
            found[name] = (factory, plugin)
    return {name: factory for name, (factory, _) in found.items()}


def _default_plugins() -> pluggy.PluginManager:
    from ideamine.plugins import get_plugin_manager  # lazily: plugins import half of IdeaMine

    return get_plugin_manager()


def _unknown(spec: str, providers: Mapping[str, ProviderFactory]) -> InvalidInput:
    available = [*PROVIDER_SPECS, *(f"{n}[:ARG]" for n in sorted(providers))]
    return InvalidInput(
        f"unknown LLM provider {spec!r}; available: {', '.join(available)}", field="llm.provider"
    )


def check_spec(spec: str, *, plugins: pluggy.PluginManager | None = None) -> None:
    """Refuse a spec that names no provider, without building one (for early CLI checks).

    Raises:
        InvalidInput: the name is neither built in nor registered by a plugin.
        PluginError: a plugin registered providers wrongly.
    """
    name = spec.partition(":")[0]
    if name in BUILTIN_PROVIDERS:
        return
    providers = plugin_providers(plugins if plugins is not None else _default_plugins())
    if name not in providers:
        raise _unknown(spec, providers)


def _from_plugin(spec: str, plugins: pluggy.PluginManager | None) -> LLMProvider:
    name, sep, arg = spec.partition(":")
    providers = plugin_providers(plugins if plugins is not None else _default_plugins())
    factory = providers.get(name)
    if factory is None:
        raise _unknown(spec, providers)
    options: dict[str, Any] = {"name": name, "arg": arg if sep else None, "spec": spec}
    try:
        provider = factory(options)
    except IdeaMineError:
        raise  # InvalidInput for a bad argument: the caller's mistake, said by the plugin
    except Exception as exc:
        raise PluginError(
            f"LLM provider {name!r} failed to start: {type(exc).__name__}: {exc}", plugin=name
        ) from exc
    if not callable(getattr(provider, "complete", None)) or not callable(getattr(provider, "aclose", None)):
        raise PluginError(f"LLM provider {name!r} returned {provider!r}, not an LLMProvider", plugin=name)
    return provider


def make_provider(
    spec: str,
    *,
    anthropic: AnthropicConfig | None = None,
    prices: PriceTable | None = None,
    record_inner: str = "anthropic",
    plugins: pluggy.PluginManager | None = None,
) -> LLMProvider:
    """Build the provider named by ``spec``.

    Args:
        spec: ``offline`` (deterministic, no network), ``anthropic`` (needs ``anthropic``),
            ``replay:PATH`` (answer from a cassette), ``record:PATH`` (answer with
            ``record_inner`` and append each answer to the cassette at PATH), or
            ``NAME[:ARG]`` of a provider a plugin registers.
        anthropic: settings of the Anthropic provider, API key included.
        prices: the price table (the shipped one by default).
        record_inner: what ``record:`` wraps (``anthropic``, ``offline`` or a plugin's provider).
        plugins: where plugins' providers are looked up for a name that is not built in
            (default: a plugin manager with the installed entry-point plugins, built only
            when such a name is asked for).

    Raises:
        InvalidInput: unknown spec (the message lists the available ones), empty path,
            ``anthropic`` without its config, or a bad argument a plugin refused.
        PluginError: a plugin registered providers wrongly or its factory failed.
    """
    kind, sep, arg = spec.partition(":")
    if kind in ("replay", "record"):
        if not sep or not arg:
            raise InvalidInput(f"provider {spec!r} needs a cassette path ({kind}:PATH)", field="llm.provider")
        if kind == "replay":
            return ReplayProvider(arg)
        if record_inner.partition(":")[0] in ("replay", "record"):
            raise InvalidInput(f"record: cannot wrap {record_inner!r}", field="llm.provider")
        inner = make_provider(record_inner, anthropic=anthropic, prices=prices, plugins=plugins)
        return RecordingProvider(inner, arg)
    if kind not in BUILTIN_PROVIDERS:
        return _from_plugin(spec, plugins)
    if sep:
        raise InvalidInput(f"provider {spec!r} takes no argument", field="llm.provider")
    if kind == "offline":
        # imported lazily: the offline model is only loaded when chosen
        offline = importlib.import_module("ideamine.llm.offline")
        provider: LLMProvider = offline.OfflineProvider()
        return provider
    if anthropic is None or not anthropic.api_key:
        raise InvalidInput(
            "the anthropic provider needs an API key in its config", field="llm.anthropic.api_key"
        )
    from ideamine.llm.anthropic_provider import AnthropicProvider

    return AnthropicProvider(anthropic, prices=prices)
