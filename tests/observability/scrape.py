"""Reading Prometheus text exposition: from a live ``/metrics`` endpoint into comparable maps."""

from __future__ import annotations

import urllib.request
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

#: sample name suffixes each metric type exports
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "gauge": ("",),
    "info": ("_info",),
    "stateset": ("",),
    "unknown": ("",),
}

SampleKey = tuple[str, frozenset[tuple[str, str]]]


@dataclass(frozen=True)
class Scrape:
    """One scrape: every sample value, and every metric family with its type."""

    samples: Mapping[SampleKey, float]
    families: Mapping[str, str]

    def names(self) -> set[str]:
        """Every sample name the endpoint can export (families without samples included)."""
        return {f + s for f, kind in self.families.items() for s in SUFFIXES.get(kind, ("",))}

    def value(self, name: str, **labels: str) -> float:
        """The value of one sample (0 when absent: a labelled child not created yet)."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def total(self, name: str, **match: str) -> float:
        """Sum of ``name`` over every sample whose labels include ``match``."""
        return sum(v for (n, labels), v in self.samples.items() if n == name and set(match.items()) <= labels)

    def by(self, name: str, label: str, **match: str) -> dict[str, float]:
        """``name`` summed per value of ``label`` over samples matching ``match``."""
        out: dict[str, float] = defaultdict(float)
        for (n, labels), v in self.samples.items():
            d = dict(labels)
            if n == name and set(match.items()) <= labels and label in d:
                out[d[label]] += v
        return dict(out)


def parse(text: str) -> Scrape:
    """Parse text exposition format."""
    samples: dict[SampleKey, float] = {}
    families: dict[str, str] = {}
    metrics: Iterable[Metric] = text_string_to_metric_families(text)
    for family in metrics:
        families[family.name] = family.type
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return Scrape(samples, families)


def scrape(port: int) -> Scrape:
    """GET http://127.0.0.1:port/metrics and parse it."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        return parse(resp.read().decode("utf-8"))


def delta(after: Mapping[str, float], before: Mapping[str, float]) -> dict[str, float]:
    """Per-key increase, keys with no change dropped."""
    return {k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0)}
