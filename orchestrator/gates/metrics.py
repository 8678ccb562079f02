"""The registry of deterministic gate-metric extractors and the helpers they share.

Each metric name used in ``ideamine/phases.yaml`` has exactly one extractor here (a test
pins that). An extractor declares the artifact types it reads, so that

* a metric whose inputs are missing yields ``None`` (which never passes) with a finding
  naming the missing type, instead of raising; and
* the engine can re-run only the tasks whose artifacts feed a failing metric
  (:func:`metric_inputs`).

Findings name the offending ids ("stories without acceptance criteria: ST-004, ST-009")
because they are fed back verbatim to the tasks of the next attempt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.gates.artifacts import ArtifactSet

__all__ = [
    "MetricValue",
    "Extractor",
    "metric",
    "extract",
    "get_extractor",
    "extractor_names",
    "metric_inputs",
    "coverage",
    "count",
    "ids_finding",
    "items_of",
    "required",
    "DEFAULT_STORY_CAP",
]

#: Most stories the story-loop plans (the engine's ``MAX_STORIES``); the story-loop gate
#: expects min(must stories, cap) of them planned, whichever the engine selected.
DEFAULT_STORY_CAP = 8


@dataclass(frozen=True)
class MetricValue:
    """What an extractor measured: the value (None when it cannot be measured) and findings."""

    value: float | None
    findings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Extractor:
    """A named metric extractor and the artifact types it reads."""

    name: str
    inputs: tuple[str, ...]
    fn: Callable[[ArtifactSet], MetricValue]


_REGISTRY: dict[str, Extractor] = {}


def metric(
    name: str, *inputs: str
) -> Callable[[Callable[[ArtifactSet], MetricValue]], Callable[[ArtifactSet], MetricValue]]:
    """Register ``fn`` as the extractor of metric ``name`` reading ``inputs``."""

    def register(fn: Callable[[ArtifactSet], MetricValue]) -> Callable[[ArtifactSet], MetricValue]:
        if name in _REGISTRY:
            raise ValueError(f"metric {name!r} is registered twice")
        _REGISTRY[name] = Extractor(name=name, inputs=tuple(inputs), fn=fn)
        return fn

    return register


def get_extractor(name: str) -> Extractor:
    """The extractor of metric ``name``; KeyError when there is none."""
    return _REGISTRY[name]


def extractor_names() -> frozenset[str]:
    """Every registered metric name."""
    return frozenset(_REGISTRY)


def metric_inputs(metric_name: str) -> tuple[str, ...]:
    """The artifact types that feed ``metric_name`` (for targeted re-runs)."""
    return get_extractor(metric_name).inputs


def extract(metric_name: str, artifacts: ArtifactSet) -> MetricValue:
    """Measure ``metric_name`` over ``artifacts``; None with a finding when an input is missing."""
    extractor = get_extractor(metric_name)
    missing = [t for t in extractor.inputs if t not in artifacts]
    if missing:
        return MetricValue(None, tuple(f"missing input artifact: {t}" for t in missing))
    return extractor.fn(artifacts)


def ids_finding(label: str, ids: Iterable[str], *, limit: int = 25) -> tuple[str, ...]:
    """One finding ``"label: A, B, C"`` (at most ``limit`` ids named), or none when ``ids`` is empty."""
    listed = list(dict.fromkeys(ids))
    if not listed:
        return ()
    more = f" (+{len(listed) - limit} more)" if len(listed) > limit else ""
    return (f"{label}: {', '.join(listed[:limit])}{more}",)


def coverage(label: str, wanted: Sequence[str], covered: Iterable[str]) -> MetricValue:
    """Share of ``wanted`` ids found in ``covered``; 1.0 when nothing is wanted.

    The finding lists the uncovered ids under ``label``.
    """
    have = set(covered)
    wanted = list(dict.fromkeys(wanted))
    missing = [i for i in wanted if i not in have]
    if not wanted:
        return MetricValue(1.0)
    return MetricValue((len(wanted) - len(missing)) / len(wanted), ids_finding(label, missing))


def count(items: Sequence[Any] | None, label: str, minimum: float | None = None) -> MetricValue:
    """The number of ``items``, with a finding when it is below ``minimum``."""
    n = len(items or ())
    if minimum is not None and n < minimum:
        return MetricValue(float(n), (f"{label}: {n} (need ≥ {minimum:g})",))
    return MetricValue(float(n))


def required(artifacts: ArtifactSet, artifact_type: str) -> Mapping[str, Any]:
    """The latest content of an input type (:func:`extract` has checked it is present)."""
    content = artifacts.one(artifact_type)
    if content is None:
        raise KeyError(f"input artifact {artifact_type!r} is missing")
    return content


def items_of(content: Mapping[str, Any] | None, key: str) -> list[Mapping[str, Any]]:
    """The list of objects under ``key`` of ``content`` (empty when absent or malformed)."""
    if content is None:
        return []
    value = content.get(key)
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []
