"""The phase catalogue: loading, validation and the queries everything else derives from.

The catalogue file (``ideamine/phases.yaml``) is read once per process by
:func:`load_catalogue` and validated strictly: a typo in it is a start-up error that
names the offending path, never a run that fails half way.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ideamine.errors import CatalogError

__all__ = [
    "Catalogue",
    "PhaseSpec",
    "TaskSpec",
    "GateSpec",
    "MetricSpec",
    "PhaseBudget",
    "QavLimits",
    "Defaults",
    "OPERATORS",
    "DEFAULT_CATALOGUE_PATH",
    "load_catalogue",
    "parse_catalogue",
]

DEFAULT_CATALOGUE_PATH = Path(__file__).with_name("phases.yaml")

#: Comparison operators a gate metric may use.
OPERATORS = frozenset({">=", "<=", "==", ">", "<", "between"})


@dataclass(frozen=True)
class TaskSpec:
    """One task of a phase: an agent task that writes ``produces``."""

    key: str
    produces: tuple[str, ...]
    after: tuple[str, ...] = ()
    per_story: bool = False


@dataclass(frozen=True)
class MetricSpec:
    """One gate metric: ``value <op> threshold`` with a weight."""

    metric: str
    op: str
    threshold: float | tuple[float, float]
    weight: float
    required: bool = False
    never_waivable: bool = False

    def passes(self, value: float | None) -> bool:
        """Whether an extracted ``value`` satisfies this metric (None never does)."""
        if value is None:
            return False
        t = self.threshold
        if self.op == "between":
            assert isinstance(t, tuple)
            return t[0] <= value <= t[1]
        assert not isinstance(t, tuple)
        match self.op:
            case ">=":
                return value >= t
            case "<=":
                return value <= t
            case ">":
                return value > t
            case "<":
                return value < t
            case _:
                return abs(value - t) < 1e-9


@dataclass(frozen=True)
class GateSpec:
    """A phase gate: rubric, pass mark and the attempt bound of its loop."""

    min_score: float
    max_attempts: int
    metrics: tuple[MetricSpec, ...]


@dataclass(frozen=True)
class PhaseBudget:
    """Default per-phase budget (a run may override)."""

    tokens: int
    wall_clock_minutes: float


@dataclass(frozen=True)
class QavLimits:
    """Bounds of the Q/A/V loop of a phase."""

    max_questions: int
    max_rounds: int


@dataclass(frozen=True)
class PhaseSpec:
    """One phase of the pipeline."""

    name: str
    index: int
    needs: tuple[str, ...]
    parallelism: int
    tasks: tuple[TaskSpec, ...]
    gate: GateSpec
    budget: PhaseBudget
    qav: QavLimits

    @property
    def artifact_types(self) -> tuple[str, ...]:
        """Every artifact type this phase's tasks produce, in task order."""
        return tuple(a for t in self.tasks for a in t.produces)

    def task(self, key: str) -> TaskSpec:
        """The task called ``key``."""
        for t in self.tasks:
            if t.key == key:
                return t
        raise KeyError(key)


@dataclass(frozen=True)
class Defaults:
    """Cross-phase defaults (heartbeats, leases, retries, breaker, Q/A/V thresholds)."""

    heartbeat_seconds: float
    lease_seconds: float
    stall_after_beats: int
    max_deliveries: int
    retry: Mapping[str, Any]
    circuit_breaker: Mapping[str, Any]
    qav: Mapping[str, Any]

    @property
    def stall_after_seconds(self) -> float:
        """Silence after which a running task counts as stalled."""
        return self.heartbeat_seconds * self.stall_after_beats


@dataclass(frozen=True)
class Catalogue:
    """The validated catalogue: phases in pipeline order plus defaults."""

    version: int
    defaults: Defaults
    phases: tuple[PhaseSpec, ...]

    @functools.cached_property
    def _by_name(self) -> dict[str, PhaseSpec]:
        return {p.name: p for p in self.phases}

    @property
    def names(self) -> tuple[str, ...]:
        """Phase names in pipeline (topological) order."""
        return tuple(p.name for p in self.phases)

    def phase(self, name: str) -> PhaseSpec:
        """The phase called ``name``; :class:`CatalogError` when unknown."""
        try:
            return self._by_name[name]
        except KeyError:
            raise CatalogError(
                f"unknown phase {name!r}; known phases: {', '.join(self.names)}", field="phases"
            ) from None

    def closure(self, requested: Iterable[str]) -> tuple[str, ...]:
        """The requested phases plus everything they need, in pipeline order."""
        wanted: set[str] = set()
        stack = list(requested)
        while stack:
            name = stack.pop()
            if name in wanted:
                continue
            wanted.add(name)
            stack.extend(self.phase(name).needs)
        return tuple(n for n in self.names if n in wanted)

    def producer_of(self, artifact_type: str) -> tuple[PhaseSpec, TaskSpec]:
        """The phase and task that produce ``artifact_type``."""
        for p in self.phases:
            for t in p.tasks:
                if artifact_type in t.produces:
                    return p, t
        raise KeyError(artifact_type)

    @property
    def artifact_types(self) -> tuple[str, ...]:
        """Every artifact type of the catalogue in pipeline order."""
        return tuple(a for p in self.phases for a in p.artifact_types)


def _req(d: Mapping[str, Any], key: str, where: str) -> Any:
    if not isinstance(d, Mapping) or key not in d:
        raise CatalogError(f"{where}.{key} is required", field=f"{where}.{key}")
    return d[key]


def _number(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise CatalogError(f"{where} must be a number, got {v!r}", field=where)
    return float(v)


def _names(v: Any, where: str) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
        raise CatalogError(f"{where} must be a list of names", field=where)
    return tuple(v)


def _parse_metric(m: Mapping[str, Any], where: str) -> MetricSpec:
    allowed = {"metric", "op", "threshold", "weight", "required", "never_waivable"}
    unknown = set(m) - allowed
    if unknown:
        raise CatalogError(f"{where} has unknown keys {sorted(unknown)}", field=where)
    op = _req(m, "op", where)
    if op not in OPERATORS:
        raise CatalogError(f"{where}.op {op!r} is not one of {sorted(OPERATORS)}", field=f"{where}.op")
    raw = _req(m, "threshold", where)
    threshold: float | tuple[float, float]
    if op == "between":
        if not isinstance(raw, list) or len(raw) != 2:
            raise CatalogError(f"{where}.threshold must be [low, high]", field=f"{where}.threshold")
        lo, hi = (_number(x, f"{where}.threshold") for x in raw)
        if lo > hi:
            raise CatalogError(f"{where}.threshold low > high", field=f"{where}.threshold")
        threshold = (lo, hi)
    else:
        threshold = _number(raw, f"{where}.threshold")
    weight = _number(_req(m, "weight", where), f"{where}.weight")
    if weight <= 0:
        raise CatalogError(f"{where}.weight must be > 0", field=f"{where}.weight")
    name = _req(m, "metric", where)
    if not isinstance(name, str) or not name:
        raise CatalogError(f"{where}.metric must be a name", field=f"{where}.metric")
    return MetricSpec(
        metric=name,
        op=op,
        threshold=threshold,
        weight=weight,
        required=bool(m.get("required", False)),
        never_waivable=bool(m.get("never_waivable", False)),
    )


def _parse_phase(raw: Mapping[str, Any], index: int, known: set[str]) -> PhaseSpec:
    where = f"phases[{index}]"
    name = _req(raw, "name", where)
    if not isinstance(name, str) or not name:
        raise CatalogError(f"{where}.name must be a name", field=f"{where}.name")
    where = f"phases.{name}"
    needs = _names(raw.get("needs", []), f"{where}.needs")
    for n in needs:
        if n not in known:
            raise CatalogError(
                f"{where}.needs names {n!r}, which is not an earlier phase", field=f"{where}.needs"
            )
    parallelism = raw.get("parallelism", 1)
    if not isinstance(parallelism, int) or parallelism < 1:
        raise CatalogError(f"{where}.parallelism must be an integer ≥ 1", field=f"{where}.parallelism")
    tasks: list[TaskSpec] = []
    keys: set[str] = set()
    for i, t in enumerate(_req(raw, "tasks", where) or []):
        tw = f"{where}.tasks[{i}]"
        key = _req(t, "key", tw)
        if key in keys:
            raise CatalogError(f"{tw}.key {key!r} is duplicated", field=f"{tw}.key")
        after = _names(t.get("after", []), f"{tw}.after")
        for a in after:
            if a not in keys:
                raise CatalogError(
                    f"{tw}.after names {a!r}, which is not an earlier task", field=f"{tw}.after"
                )
        produces = _names(_req(t, "produces", tw), f"{tw}.produces")
        if not produces:
            raise CatalogError(f"{tw}.produces must name at least one artifact type", field=f"{tw}.produces")
        keys.add(key)
        tasks.append(
            TaskSpec(key=key, produces=produces, after=after, per_story=bool(t.get("per_story", False)))
        )
    if not tasks:
        raise CatalogError(f"{where}.tasks must not be empty", field=f"{where}.tasks")
    g = _req(raw, "gate", where)
    metrics = tuple(
        _parse_metric(m, f"{where}.gate.metrics[{i}]")
        for i, m in enumerate(_req(g, "metrics", f"{where}.gate"))
    )
    if not metrics:
        raise CatalogError(f"{where}.gate.metrics must not be empty", field=f"{where}.gate.metrics")
    min_score = _number(_req(g, "min_score", f"{where}.gate"), f"{where}.gate.min_score")
    if not 0 <= min_score <= 100:
        raise CatalogError(f"{where}.gate.min_score must be within 0..100", field=f"{where}.gate.min_score")
    attempts = _req(g, "max_attempts", f"{where}.gate")
    if not isinstance(attempts, int) or attempts < 1:
        raise CatalogError(
            f"{where}.gate.max_attempts must be an integer ≥ 1", field=f"{where}.gate.max_attempts"
        )
    b = _req(raw, "budget", where)
    q = _req(raw, "qav", where)
    return PhaseSpec(
        name=name,
        index=index,
        needs=needs,
        parallelism=parallelism,
        tasks=tuple(tasks),
        gate=GateSpec(min_score=min_score, max_attempts=attempts, metrics=metrics),
        budget=PhaseBudget(
            tokens=int(_number(_req(b, "tokens", f"{where}.budget"), f"{where}.budget.tokens")),
            wall_clock_minutes=_number(
                _req(b, "wall_clock_minutes", f"{where}.budget"), f"{where}.budget.wall_clock_minutes"
            ),
        ),
        qav=QavLimits(
            max_questions=int(
                _number(_req(q, "max_questions", f"{where}.qav"), f"{where}.qav.max_questions")
            ),
            max_rounds=int(_number(_req(q, "max_rounds", f"{where}.qav"), f"{where}.qav.max_rounds")),
        ),
    )


def parse_catalogue(data: Any) -> Catalogue:
    """Validate a parsed catalogue document and build the :class:`Catalogue`."""
    if not isinstance(data, Mapping):
        raise CatalogError("the catalogue must be a mapping", field="")
    d = _req(data, "defaults", "catalogue")
    defaults = Defaults(
        heartbeat_seconds=_number(_req(d, "heartbeat_seconds", "defaults"), "defaults.heartbeat_seconds"),
        lease_seconds=_number(_req(d, "lease_seconds", "defaults"), "defaults.lease_seconds"),
        stall_after_beats=int(
            _number(_req(d, "stall_after_beats", "defaults"), "defaults.stall_after_beats")
        ),
        max_deliveries=int(_number(_req(d, "max_deliveries", "defaults"), "defaults.max_deliveries")),
        retry=dict(_req(d, "retry", "defaults")),
        circuit_breaker=dict(_req(d, "circuit_breaker", "defaults")),
        qav=dict(_req(d, "qav", "defaults")),
    )
    phases: list[PhaseSpec] = []
    known: set[str] = set()
    produced: dict[str, str] = {}
    for i, raw in enumerate(_req(data, "phases", "catalogue") or []):
        p = _parse_phase(raw, i, known)
        if p.name in known:
            raise CatalogError(f"phase {p.name!r} is duplicated", field=f"phases[{i}].name")
        for a in p.artifact_types:
            if a in produced:
                raise CatalogError(
                    f"artifact type {a!r} is produced by both {produced[a]!r} and {p.name!r}",
                    field=f"phases.{p.name}.tasks",
                )
            produced[a] = p.name
        known.add(p.name)
        phases.append(p)
    if not phases:
        raise CatalogError("the catalogue has no phases", field="phases")
    return Catalogue(version=int(data.get("version", 1)), defaults=defaults, phases=tuple(phases))


@functools.cache
def _load_cached(path: str) -> Catalogue:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"cannot read catalogue {path}: {exc.strerror}", field="catalogue") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogError(f"catalogue {path} is not valid YAML: {exc}", field="catalogue") from None
    return parse_catalogue(data)


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Load and validate the catalogue (the shipped one by default), once per path."""
    return _load_cached(str(path or DEFAULT_CATALOGUE_PATH))
