"""Everything the HTML report shows, read through the ``RunStore`` protocol.

The report never touches SQL or in-memory engine state: it reads a finished (or stopped)
run back from the store, so the same code serves an embedded run directory (SQLite) and
a run in PostgreSQL. This module gathers the records and derives the two views that need
computing — the phase timeline from ledger timestamps and cost totals per phase and model.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ideamine.store.base import RunStore
from ideamine.store.records import (
    ArtifactRecord,
    AssumptionRecord,
    GateEvaluationRecord,
    LedgerRecord,
    LLMCallRecord,
    PhaseExecutionRecord,
    QuestionRecord,
    RunRecord,
)
from orchestrator.report import traceability_rows

__all__ = [
    "ReportData",
    "PhaseSpan",
    "Segment",
    "GateMark",
    "CostRow",
    "load_report_data",
    "timeline",
    "costs",
]

#: ledger page size when reading a run's events
EVENT_PAGE = 5000
#: phase events that close a phase's timeline span, with the outcome they record
_PHASE_END = {"phase.completed": "completed", "phase.failed": "failed", "phase.waived": "waived"}
#: run events after which no phase of the run is running
_RUN_STOP = frozenset(
    {
        "run.paused",
        "run.cancelled",
        "run.awaiting_input",
        "run.needs_waiver",
        "run.budget_exhausted",
        "run.completed",
        "run.failed",
    }
)


@dataclass(frozen=True)
class Segment:
    """One stretch of a phase on the timeline, in seconds since the run was created."""

    start: float
    end: float
    attempt: int
    #: completed · failed · waived · retried (a next attempt followed) · stopped · open
    outcome: str


@dataclass(frozen=True)
class GateMark:
    """A gate evaluation on the timeline."""

    at: float
    attempt: int
    decision: str
    score: float | None


@dataclass
class PhaseSpan:
    """A phase's segments and gate marks; empty when the phase never started."""

    phase: str
    segments: list[Segment] = field(default_factory=list)
    gates: list[GateMark] = field(default_factory=list)

    @property
    def start(self) -> float | None:
        """When the phase first started."""
        return self.segments[0].start if self.segments else None

    @property
    def end(self) -> float | None:
        """When its last segment ended."""
        return self.segments[-1].end if self.segments else None

    @property
    def outcome(self) -> str:
        """The outcome of its last segment, or ``not started``."""
        return self.segments[-1].outcome if self.segments else "not started"


@dataclass(frozen=True)
class CostRow:
    """Model usage of one phase and model."""

    phase: str
    model: str
    calls: int
    input_tokens: int
    output_tokens: int
    usd: float

    @property
    def tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class ReportData:
    """A run and everything recorded about it."""

    run: RunRecord
    phases: tuple[str, ...]
    executions: list[PhaseExecutionRecord]
    artifacts: list[ArtifactRecord]
    events: list[LedgerRecord]
    calls: list[LLMCallRecord]
    gates: list[GateEvaluationRecord]
    questions: list[QuestionRecord]
    assumptions: list[AssumptionRecord]
    spans: list[PhaseSpan]
    costs: list[CostRow]
    traceability: list[dict[str, Any]]

    @property
    def duration(self) -> float:
        """Seconds from the first to the last ledger event."""
        if len(self.events) < 2:
            return 0.0
        return (self.events[-1].created_at - self.events[0].created_at).total_seconds()


async def _all_events(store: RunStore, run_id: str) -> list[LedgerRecord]:
    events: list[LedgerRecord] = []
    while True:
        page = await store.list_events(run_id, after_seq=events[-1].seq if events else 0, limit=EVENT_PAGE)
        events.extend(page)
        if len(page) < EVENT_PAGE:
            return events


def timeline(phases: Sequence[str], events: Sequence[LedgerRecord]) -> list[PhaseSpan]:
    """Phase spans from the ledger: ``phase.started`` … ``phase.completed`` (or another end).

    A new ``phase.started`` of an open phase (the gate's next attempt) ends the previous
    segment as ``retried``; a run-level stop (pause, budget, waiver …) ends every open
    segment as ``stopped`` and ``run.resumed`` reopens them. Segments still open at the
    end of the ledger end at its last event as ``open``.
    """
    spans = {p: PhaseSpan(p) for p in phases}
    if not events:
        return list(spans.values())
    t0 = events[0].created_at
    open_: dict[str, tuple[float, int]] = {}
    stopped: dict[str, int] = {}

    def rel(t: datetime) -> float:
        return (t - t0).total_seconds()

    def close(phase: str, at: float, outcome: str) -> None:
        start, attempt = open_.pop(phase)
        spans.setdefault(phase, PhaseSpan(phase)).segments.append(Segment(start, at, attempt, outcome))

    for e in events:
        at = rel(e.created_at)
        if e.type == "phase.started" and e.phase:
            if e.phase in open_:
                close(e.phase, at, "retried")
            open_[e.phase] = (at, int(e.payload.get("attempt", 1)))
        elif e.type.startswith("gate.") and e.phase and "decision" in e.payload:
            score = e.payload.get("score")
            spans.setdefault(e.phase, PhaseSpan(e.phase)).gates.append(
                GateMark(at, int(e.payload.get("attempt", 1)), str(e.payload["decision"]), score)
            )
        elif e.type in _PHASE_END and e.phase:
            if e.phase in open_:
                close(e.phase, at, _PHASE_END[e.type])
            elif (span := spans.get(e.phase)) and span.segments:
                last = span.segments[-1]
                span.segments[-1] = Segment(last.start, last.end, last.attempt, _PHASE_END[e.type])
        elif e.type in _RUN_STOP:
            for phase in list(open_):
                stopped[phase] = open_[phase][1]
                close(phase, at, "stopped")
        elif e.type == "run.resumed":
            open_.update({p: (at, attempt) for p, attempt in stopped.items()})
            stopped.clear()
    end = rel(events[-1].created_at)
    for phase in list(open_):
        close(phase, end, "open")
    return list(spans.values())


def costs(phases: Sequence[str], calls: Sequence[LLMCallRecord]) -> list[CostRow]:
    """Calls, tokens and USD per (phase, model), phases in pipeline order."""
    acc: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0, 0, 0.0])
    for c in calls:
        row = acc[(c.phase or "(run)", c.model)]
        row[0] += 1
        row[1] += c.input_tokens
        row[2] += c.output_tokens
        row[3] += c.cost_usd
    order = {p: i for i, p in enumerate(phases)}
    keys = sorted(acc, key=lambda k: (order.get(k[0], len(order)), k[0], k[1]))
    return [
        CostRow(p, m, int(acc[(p, m)][0]), int(acc[(p, m)][1]), int(acc[(p, m)][2]), acc[(p, m)][3])
        for p, m in keys
    ]


async def load_report_data(store: RunStore, run_id: str) -> ReportData:
    """Read run ``run_id`` and derive the report's views.

    Raises:
        NotFound: the run does not exist in ``store``.
    """
    run = await store.get_run(run_id)
    phases = tuple(run.phases)
    artifacts = await store.list_artifacts(run_id)
    events = await _all_events(store, run_id)
    calls = await store.list_llm_calls(run_id=run_id)
    return ReportData(
        run=run,
        phases=phases,
        executions=await store.list_phase_executions(run_id),
        artifacts=artifacts,
        events=events,
        calls=calls,
        gates=await store.list_gate_evaluations(run_id),
        questions=await store.list_questions(run_id),
        assumptions=await store.list_assumptions(run_id),
        spans=timeline(phases, events),
        costs=costs(phases, calls),
        traceability=traceability_rows(artifacts),
    )
