"""The price table and the retry rules (pure functions)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from ideamine.catalogue import load_catalogue
from ideamine.errors import CatalogError
from ideamine.llm.prices import ModelPrice, PriceTable, load_prices, parse_prices
from ideamine.llm.retry import ErrorClass, RetryPolicy, classify_status, parse_retry_after


def test_shipped_table_prices_the_current_models():
    table = load_prices()
    for model in ("claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"):
        p = table.price(model)
        assert p is not None and 0 < p.input < p.output
    assert table.cost("offline", 10_000, 10_000) == 0.0


def test_dated_ids_use_the_longest_listed_prefix():
    table = PriceTable({"claude-opus-4": ModelPrice(15, 75), "claude-opus-4-5": ModelPrice(5, 25)})
    assert table.price("claude-opus-4-5-20251101") == ModelPrice(5, 25)
    assert table.price("claude-opus-4-20250514") == ModelPrice(15, 75)
    assert table.price("gpt-9") is None


def test_cost_counts_cache_tokens_and_prices_unknown_models_at_the_dearest_rate():
    table = PriceTable({"a": ModelPrice(1, 5), "b": ModelPrice(3, 15)}, 1.25, 0.1)
    assert table.cost(
        "a", 1_000_000, 0, cache_write_tokens=1_000_000, cache_read_tokens=1_000_000
    ) == pytest.approx(1 + 1.25 + 0.1)
    assert table.cost("unknown", 1_000_000, 1_000_000) == pytest.approx(3 + 15)


@pytest.mark.parametrize(
    "doc",
    [{}, {"models": {}}, {"models": {"m": {"input": 1}}}, {"models": {"m": {"input": -1, "output": 2}}}],
)
def test_malformed_price_tables_are_refused(doc):
    with pytest.raises(CatalogError):
        parse_prices(doc)


@pytest.mark.parametrize(
    ("status", "kind"),
    [(429, ErrorClass.RATE_LIMITED), (529, ErrorClass.TRANSIENT), (500, ErrorClass.TRANSIENT)]
    + [(408, ErrorClass.TRANSIENT), (400, ErrorClass.FATAL), (401, ErrorClass.FATAL), (402, ErrorClass.FATAL)]
    + [(403, ErrorClass.FATAL), (404, ErrorClass.FATAL), (413, ErrorClass.FATAL)],
)
def test_status_classes(status, kind):
    assert classify_status(status) is kind


def test_retry_after_forms():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after({"retry-after": "7"}) == 7.0
    assert parse_retry_after({"retry-after": "0.25"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    date = format_datetime(now + timedelta(seconds=42), usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=now) == pytest.approx(42)
    assert (
        parse_retry_after({"retry-after": format_datetime(now - timedelta(seconds=5), usegmt=True)}, now=now)
        == 0
    )
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_backoff_is_capped_full_jitter_and_retry_after_is_capped():
    policy = RetryPolicy(transient_initial=1, transient_max=60, rate_limited_max=300)
    rng = random.Random(1)
    for n in range(1, 12):
        ceiling = min(60, 2 ** (n - 1))
        assert all(0 <= policy.delay(ErrorClass.TRANSIENT, n, None, rng) <= ceiling for _ in range(50))
    assert policy.delay(ErrorClass.RATE_LIMITED, 1, 1000.0, rng) == 300
    assert policy.delay(ErrorClass.TRANSIENT, 1, 1000.0, rng) == 60
    assert policy.delay(ErrorClass.RATE_LIMITED, 1, 12.0, rng) == 12


def test_policy_from_the_catalogue_defaults():
    policy = RetryPolicy.from_catalogue(load_catalogue().defaults.retry)
    assert policy == RetryPolicy(5, 1.0, 60.0, 10, 300.0)
    assert (policy.max_tries(ErrorClass.TRANSIENT), policy.max_tries(ErrorClass.FATAL)) == (5, 1)
