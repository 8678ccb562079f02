"""Runs a scenario N times on a live stack and records each iteration as JSON.

Every iteration draws its randomness from ``Random(f"{seed}:{scenario}:{i}")`` — the seed
is written into the result, so ``CHAOS_SEED=<seed>`` replays the same fault timings,
victims and burst sizes. After the fault the runner waits for the run to end, checks
the invariants, and waits until every service is SERVING again before the next
iteration. A failure still writes the result file, with the record of every iteration
up to it (the failing one included).

Result file ``<results>/<scenario>.json``::

    {"scenario", "description", "seed", "iterations", "passed", "failed",
     "recovery_s": {"min", "p50", "p90", "p99", "max", "mean"}, "duration_s",
     "environment": {...}, "records": [{"i", "ok", "error", "run_id", "fault",
     "recovery_s", "duration_s", "verdict"}, ...]}
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import platform
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.chaos.invariants import check_run
from tests.chaos.scenarios import LANES, SCENARIOS, TERMINAL, Outcome, until
from tests.chaos.stack import ChaosStack

__all__ = ["RESULTS", "ScenarioResult", "percentiles", "run_scenario", "settings"]

#: where result files go (gitignored but for the committed summary)
RESULTS = Path(__file__).resolve().parent / "results"


def settings() -> tuple[int, int, Path]:
    """``(iterations, seed, results dir)`` from CHAOS_ITERATIONS (1), CHAOS_SEED (random), CHAOS_RESULTS.

    Without CHAOS_RESULTS the files go to a scratch directory: the smoke in ``make test``
    must not overwrite the results ``make chaos`` left for ``scripts/chaos_report.py``.
    """
    iterations = int(os.environ.get("CHAOS_ITERATIONS", "1"))
    seed = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(1, 10**9))
    scratch = Path(tempfile.gettempdir()) / "ideamine-chaos-results"
    return iterations, seed, Path(os.environ.get("CHAOS_RESULTS") or scratch)


def percentiles(values: list[float]) -> dict[str, float]:
    """Nearest-rank percentiles (no interpolation: every figure is a measured value)."""
    if not values:
        return {}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    return {
        "min": round(ordered[0], 3),
        "p50": round(rank(50), 3),
        "p90": round(rank(90), 3),
        "p99": round(rank(99), 3),
        "max": round(ordered[-1], 3),
        "mean": round(sum(ordered) / len(ordered), 3),
    }


def _environment() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


@dataclass
class ScenarioResult:
    """All iterations of one scenario so far."""

    scenario: str
    seed: int
    iterations: int
    records: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    def document(self) -> dict[str, Any]:
        """The JSON document."""
        ok = [r for r in self.records if r["ok"] and "verdict" in r]  # checked and held
        doc = (SCENARIOS[self.scenario].__doc__ or "").strip()
        return {
            "scenario": self.scenario,
            "order": list(SCENARIOS).index(self.scenario),
            "description": " ".join(doc.split()),
            "seed": self.seed,
            "iterations": self.iterations,
            "passed": len(ok),
            "failed": sum(not r["ok"] for r in self.records),
            "recovery_s": percentiles([r["recovery_s"] for r in ok]),
            "duration_s": round(time.time() - self.started, 1),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "environment": _environment(),
            "records": self.records,
        }

    def write(self, directory: Path) -> Path:
        """Write ``<directory>/<scenario>.json``."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.scenario}.json"
        path.write_text(json.dumps(self.document(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
        return path


def _describe(exc: Exception) -> str:
    return str(exc) if isinstance(exc, AssertionError) else f"{type(exc).__name__}: {exc}"


async def _settle(stack: ChaosStack, outcome: Outcome, record: dict[str, Any], started: float) -> None:
    """Wait for the run to end and check its invariants (fills ``record``)."""
    await until(
        lambda: stack.fetchval(
            "SELECT status = ANY($2::text[]) FROM runs WHERE id = $1", outcome.run_id, list(TERMINAL)
        ),
        what="the run to end",
        within=300,
        every=0.1,
    )
    record["verdict"] = (await check_run(stack, outcome.run_id, expect=outcome.expect)).as_dict()
    record["duration_s"] = round(time.monotonic() - started, 3)


async def run_scenario(
    stack: ChaosStack, name: str, *, iterations: int, seed: int, results: Path
) -> ScenarioResult:
    """Run ``name`` ``iterations`` times; AssertionError naming the first failed iteration.

    Iterations overlap only in their tails: once an iteration's recovery is measured and
    every service is SERVING again, the next fault is injected while the previous run
    finishes and is checked in the background (its invariants must hold all the same).
    Scenarios listed in :data:`~tests.chaos.scenarios.LANES` run that many iterations at
    once (a poison run takes a delivery limit's worth of host crashes to fail).
    """
    result = ScenarioResult(name, seed, iterations)
    result.records = [{"i": i, "ok": True, "error": ""} for i in range(iterations)]
    settling: list[tuple[int, asyncio.Task[None]]] = []
    failures: dict[int, str] = {}

    async def fault(i: int) -> None:
        record, started = result.records[i], time.monotonic()
        try:
            outcome = await SCENARIOS[name](stack, random.Random(f"{seed}:{name}:{i}"))
        except Exception as exc:  # an assertion, or anything else: recorded, never lost
            failures[i] = _describe(exc)
            return
        record.update(run_id=outcome.run_id, fault=outcome.fault, recovery_s=round(outcome.recovery_s, 3))
        settling.append((i, asyncio.create_task(_settle(stack, outcome, record, started))))

    lanes = LANES.get(name, 1)
    for first in range(0, iterations, lanes):
        await asyncio.gather(*(fault(i) for i in range(first, min(first + lanes, iterations))))
        if failures:
            break
        await stack.all_serving()  # the next fault meets a whole stack
        result.write(results)
    for i, check in settling:
        try:
            await check
        except Exception as exc:  # a settle that crashed is a failed iteration, and written down
            failures[i] = _describe(exc)
    for i, error in failures.items():
        result.records[i].update(ok=False, error=error[:2000])
    result.records = [r for r in result.records if "run_id" in r or not r["ok"]]  # drop iterations never run
    result.write(results)
    if failures:
        i = min(failures)
        raise AssertionError(f"{name} iteration {i} (CHAOS_SEED={seed}): {failures[i]}")
    return result
