"""Phase gates: deterministic metric extractors over a run's artifacts, and scoring.

Public surface:

* :class:`ArtifactSet` / :class:`ArtifactRecord` — the read-only view extractors read;
* :func:`evaluate_gate` → :class:`GateResult` (with per-metric :class:`MetricResult`);
* :func:`metric_inputs` — the artifact types feeding a metric, for targeted re-runs;
* :func:`extract`, :func:`extractor_names`, :class:`MetricValue` — the extractor registry;

Importing the package registers the built-in extractors (plain module imports, no I/O).
"""

from orchestrator.gates import extractors_delivery, extractors_product  # noqa: F401  (registration)
from orchestrator.gates.artifacts import ArtifactRecord, ArtifactSet
from orchestrator.gates.metrics import (
    DEFAULT_STORY_CAP,
    Extractor,
    MetricValue,
    extract,
    extractor_names,
    get_extractor,
    metric_inputs,
)
from orchestrator.gates.scoring import WARN_BAND, GateResult, MetricResult, evaluate_gate

__all__ = [
    "DEFAULT_STORY_CAP",
    "WARN_BAND",
    "ArtifactRecord",
    "ArtifactSet",
    "Extractor",
    "GateResult",
    "MetricResult",
    "MetricValue",
    "evaluate_gate",
    "extract",
    "extractor_names",
    "get_extractor",
    "metric_inputs",
]
