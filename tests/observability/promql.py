"""Which metric names a PromQL expression selects.

A small lexer, not a parser: it drops what cannot be a metric name — string literals,
label matchers ``{...}``, range and subquery brackets ``[...]``, grouping clauses
(``by (...)``, ``without``, ``on``, ``ignoring``, ``group_left``/``group_right``),
Grafana variables, numbers — and then every remaining identifier not followed by ``(``
and not a keyword is a metric name. Identifiers followed by ``(`` must be PromQL
functions or aggregations; an unknown one is reported, so a typo cannot hide a metric.
Expressions are also checked by promtool, so this only needs to be right for valid PromQL.
"""

from __future__ import annotations

import re

__all__ = ["UnknownFunction", "metric_names"]

AGGREGATIONS = frozenset(
    "sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio".split()
)
FUNCTIONS = frozenset(
    """abs absent absent_over_time ceil changes clamp clamp_max clamp_min day_of_month day_of_week
    day_of_year days_in_month delta deriv exp floor histogram_avg histogram_count histogram_fraction
    histogram_quantile histogram_stddev histogram_stdvar histogram_sum holt_winters hour idelta
    increase irate label_join label_replace ln log2 log10 minute month predict_linear rate resets
    round scalar sgn sort sort_desc sort_by_label sort_by_label_desc sqrt time timestamp vector year
    avg_over_time min_over_time max_over_time sum_over_time count_over_time quantile_over_time
    stddev_over_time stdvar_over_time last_over_time present_over_time mad_over_time
    acos acosh asin asinh atan atanh cos cosh sin sinh tan tanh deg rad pi""".split()
)
KEYWORDS = frozenset("and or unless bool offset atan2 inf nan".split())

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE)
_VARIABLES = re.compile(r"\$\{?\w+\}?")
_DURATIONS = re.compile(r"(?<![\w.])(?:\d+(?:ms|[smhdwy]))+\b")
_NUMBERS = re.compile(r"(?<![\w.])(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)")
_IDENT = re.compile(r"(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")


class UnknownFunction(ValueError):
    """An identifier called like a function that PromQL does not know."""


def metric_names(expr: str) -> set[str]:
    """Metric names selected by ``expr`` (valid PromQL, Grafana macros allowed)."""
    text = _STRINGS.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _VARIABLES.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = re.sub(r"\b(?:group_left|group_right)\b", " ", text)  # without a label list
    text = _DURATIONS.sub(" ", text)  # offset 5m, @ modifiers' durations
    text = _NUMBERS.sub(" ", text)
    names: set[str] = set()
    for match in _IDENT.finditer(text):
        ident, call = match.group(1), match.group(2)
        if call:
            if ident not in FUNCTIONS and ident not in AGGREGATIONS:
                raise UnknownFunction(f"unknown PromQL function {ident!r} in {expr!r}")
        elif ident.lower() not in KEYWORDS:
            names.add(ident)
    return names
