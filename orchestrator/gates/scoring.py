"""Gate evaluation: score a phase's rubric over the run's artifacts and decide.

The rule (DESIGN.md §4) is implemented here and nowhere else::

    score = 100 × Σ(weights of passing metrics) / Σ(weights)
    FAIL  if a required metric fails, a required artifact is missing, or score < min_score
    WARN  if score < min_score + 10
    PASS  otherwise

Every artifact type the phase produces is required. A failing metric marked
``never_waivable`` (critical security findings) makes the result ``blocking_unwaivable``:
no admin waiver may turn that FAIL into progress.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ideamine.catalogue import PhaseSpec
from ideamine.enums import GateDecision
from orchestrator.gates.artifacts import ArtifactSet
from orchestrator.gates.metrics import extract, metric_inputs

__all__ = ["MetricResult", "GateResult", "evaluate_gate", "WARN_BAND"]

#: Points above ``min_score`` below which a passing gate is only a WARN.
WARN_BAND = 10.0


@dataclass(frozen=True)
class MetricResult:
    """One metric of a gate evaluation."""

    metric: str
    value: float | None
    passed: bool
    op: str
    threshold: float | tuple[float, float]
    weight: float
    required: bool
    never_waivable: bool
    findings: tuple[str, ...]
    #: artifact types that feed this metric (what a retry re-runs when it fails)
    inputs: tuple[str, ...]


@dataclass(frozen=True)
class GateResult:
    """The outcome of evaluating one phase gate."""

    phase: str
    score: float
    min_score: float
    decision: GateDecision
    metrics: tuple[MetricResult, ...]
    #: findings of failing metrics and missing artifacts: the feedback for the next attempt
    findings: tuple[str, ...]
    missing_artifacts: tuple[str, ...]
    #: a never-waivable metric failed: no waiver may let the run past this gate
    blocking_unwaivable: bool

    @property
    def failing_metrics(self) -> tuple[MetricResult, ...]:
        """The metrics that did not pass."""
        return tuple(m for m in self.metrics if not m.passed)

    def rerun_artifact_types(self, produced: tuple[str, ...]) -> tuple[str, ...]:
        """Types among ``produced`` (the phase's own) that feed a failing metric or are missing."""
        wanted = {t for m in self.failing_metrics for t in m.inputs} | set(self.missing_artifacts)
        return tuple(t for t in produced if t in wanted)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for storage, events and the release dossier)."""
        data = asdict(self)
        data["decision"] = self.decision.value
        for m in data["metrics"]:
            if isinstance(m["threshold"], tuple):
                m["threshold"] = list(m["threshold"])
            m["findings"], m["inputs"] = list(m["findings"]), list(m["inputs"])
        data["findings"], data["missing_artifacts"] = list(self.findings), list(self.missing_artifacts)
        return data


def evaluate_gate(phase: PhaseSpec, artifacts: ArtifactSet) -> GateResult:
    """Evaluate ``phase``'s gate over ``artifacts`` (the run's accepted artifacts plus the phase draft)."""
    gate = phase.gate
    results: list[MetricResult] = []
    for spec in gate.metrics:
        measured = extract(spec.metric, artifacts)
        results.append(
            MetricResult(
                metric=spec.metric,
                value=measured.value,
                passed=spec.passes(measured.value),
                op=spec.op,
                threshold=spec.threshold,
                weight=spec.weight,
                required=spec.required,
                never_waivable=spec.never_waivable,
                findings=measured.findings,
                inputs=metric_inputs(spec.metric),
            )
        )
    total = sum(m.weight for m in results)
    score = round(100.0 * sum(m.weight for m in results if m.passed) / total, 4) if total else 0.0
    missing = tuple(t for t in dict.fromkeys(phase.artifact_types) if t not in artifacts)
    required_failed = any(m.required and not m.passed for m in results)
    if required_failed or missing or score < gate.min_score:
        decision = GateDecision.FAIL
    elif score < gate.min_score + WARN_BAND:
        decision = GateDecision.WARN
    else:
        decision = GateDecision.PASS
    findings = [f"missing artifact: {t}" for t in missing]
    for m in results:
        if not m.passed:
            findings.extend(m.findings or (f"{m.metric} = {m.value} does not satisfy {m.op} {m.threshold}",))
    return GateResult(
        phase=phase.name,
        score=score,
        min_score=gate.min_score,
        decision=decision,
        metrics=tuple(results),
        findings=tuple(findings),
        missing_artifacts=missing,
        blocking_unwaivable=any(m.never_waivable and not m.passed for m in results),
    )
