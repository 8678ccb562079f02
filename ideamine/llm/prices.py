"""The model price table: what a call costs in USD.

One table (``prices.yaml`` beside this module) is the only place prices live, so the
budget accountant, the providers and the cost report always agree. Prices are USD per
million tokens; a dated model id (``claude-sonnet-4-5-20250929``) is priced by its
longest listed prefix so a new snapshot of a known model needs no table change.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ideamine.errors import CatalogError

__all__ = ["ModelPrice", "PriceTable", "DEFAULT_PRICES_PATH", "load_prices", "parse_prices"]

DEFAULT_PRICES_PATH = Path(__file__).with_name("prices.yaml")

_PER_TOKEN = 1_000_000


@dataclass(frozen=True)
class ModelPrice:
    """USD per million input and output tokens of one model."""

    input: float
    output: float


@dataclass(frozen=True)
class PriceTable:
    """Model prices and cache multipliers, looked up by longest model-id prefix."""

    models: Mapping[str, ModelPrice]
    cache_write_multiplier: float = 1.25
    cache_read_multiplier: float = 0.1

    def price(self, model: str) -> ModelPrice | None:
        """The price of ``model`` (exact id, else longest listed prefix), or None when unlisted."""
        if model in self.models:
            return self.models[model]
        best = max((m for m in self.models if model.startswith(m)), key=len, default=None)
        return self.models[best] if best is not None else None

    def cost(
        self,
        model: str,
        input_tokens: int,
        output_tokens: int,
        *,
        cache_write_tokens: int = 0,
        cache_read_tokens: int = 0,
    ) -> float:
        """Actual USD cost of a call; an unlisted model costs the worst listed price.

        Pricing an unknown model at the dearest rate keeps USD budgets conservative
        instead of silently free.
        """
        p = self.price(model) or self._dearest()
        input_equiv = (
            input_tokens
            + cache_write_tokens * self.cache_write_multiplier
            + cache_read_tokens * self.cache_read_multiplier
        )
        return (input_equiv * p.input + output_tokens * p.output) / _PER_TOKEN

    def _dearest(self) -> ModelPrice:
        if not self.models:
            return ModelPrice(0.0, 0.0)
        return ModelPrice(
            max(p.input for p in self.models.values()), max(p.output for p in self.models.values())
        )


def parse_prices(data: Mapping[str, Any], *, source: str = "prices") -> PriceTable:
    """Validate a loaded price document; raise CatalogError naming the bad field."""
    raw = data.get("models")
    if not isinstance(raw, Mapping) or not raw:
        raise CatalogError(f"{source}: 'models' must be a non-empty mapping", field="models")
    models: dict[str, ModelPrice] = {}
    for name, row in raw.items():
        where = f"models.{name}"
        if not isinstance(row, Mapping):
            raise CatalogError(f"{source}: {where} must be a mapping", field=where)
        values = []
        for key in ("input", "output"):
            v = row.get(key)
            if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
                raise CatalogError(f"{source}: {where}.{key} must be a non-negative number", field=where)
            values.append(float(v))
        models[str(name)] = ModelPrice(values[0], values[1])
    return PriceTable(
        models=models,
        cache_write_multiplier=float(data.get("cache_write_multiplier", 1.25)),
        cache_read_multiplier=float(data.get("cache_read_multiplier", 0.1)),
    )


@functools.cache
def _load_cached(path: str) -> PriceTable:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(f"cannot read price table {path}: {exc}", field="prices") from None
    if not isinstance(data, Mapping):
        raise CatalogError(f"price table {path} is not a mapping", field="prices")
    return parse_prices(data, source=path)


def load_prices(path: str | Path | None = None) -> PriceTable:
    """Load (once per process and path) the price table, by default the shipped one."""
    return _load_cached(str(path or DEFAULT_PRICES_PATH))
