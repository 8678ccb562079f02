"""The soak: continuous runs under random faults for a while, with process growth measured.

``python -m tests.chaos.soak --seconds 600`` (``make soak``; ``SOAK_SECONDS`` sets the
length) starts a :class:`~tests.chaos.stack.ChaosStack`, keeps a few runs in flight
all the time, and every few seconds injects a random fault drawn from the scenarios
that leave the stack whole afterwards (host kill or freeze, orchestrator kill, Redis and
PostgreSQL restarts, a model-server burst). Every run must end SUCCEEDED with every
invariant of :mod:`tests.chaos.invariants` holding.

Each service process is sampled every second: resident memory (``VmRSS``) and open file
descriptors (``/proc/<pid>/fd``). Faults replace processes, so every generation of every
service that lived at least :data:`MIN_LIFETIME_FRACTION` of the soak is measured, from
the end of its own warm-up (the first fifth of its life) to its last sample, and must
stay within :data:`RSS_GROWTH_MB` and :data:`FD_GROWTH` — a leak of memory, sockets or
files per run or per fault shows up as steady growth. The result goes to
``tests/chaos/results/soak.json`` (read by ``scripts/chaos_report.py``).

Not part of ``make test``: it takes minutes by design.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.chaos.invariants import check_run
from tests.chaos.runner import RESULTS, percentiles
from tests.chaos.scenarios import SCENARIOS, TERMINAL, Outcome, until
from tests.chaos.stack import ChaosStack

#: faults after which the stack is whole again (no poison: it is meant to fail its runs)
FAULTS = (
    "host_kill",
    "host_freeze",
    "orchestrator_kill",
    "redis_restart_aof",
    "redis_restart_empty",
    "pg_restart_fast",
    "pg_restart_immediate",
    "model_burst",
)
#: allowed growth of one process over the measured part of the soak
RSS_GROWTH_MB = 64.0
FD_GROWTH = 32
#: a process generation is measured when it lived at least this share of the soak
MIN_LIFETIME_FRACTION = 0.25
#: runs kept in flight besides the one each fault is aimed at
BACKGROUND_RUNS = 2


def _sample(pid: int) -> tuple[float, int] | None:
    """(RSS MB, open fds) of a live process, None when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        return rss / 1024, len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, StopIteration):
        return None


@dataclass
class Series:
    """Samples of one process (one generation of one service)."""

    name: str
    pid: int
    samples: list[tuple[float, float, int]] = field(default_factory=list)  #: (t, rss MB, fds)

    @property
    def lifetime(self) -> float:
        return self.samples[-1][0] - self.samples[0][0] if self.samples else 0.0

    def growth(self) -> dict[str, Any]:
        """From the end of this process's warm-up (the first fifth of its life) to its last sample."""
        since = self.samples[0][0] + self.lifetime / 5
        after = [s for s in self.samples if s[0] >= since] or self.samples[-1:]
        first, last = after[0], after[-1]
        return {
            "process": self.name,
            "pid": self.pid,
            "lifetime_s": round(self.lifetime, 1),
            "rss_mb": [round(first[1], 1), round(last[1], 1), round(max(s[1] for s in after), 1)],
            "fds": [first[2], last[2], max(s[2] for s in after)],
            "rss_growth_mb": round(last[1] - first[1], 1),
            "fd_growth": last[2] - first[2],
        }


class Soak:
    """One soak: runs, faults, samples."""

    def __init__(self, stack: ChaosStack, seconds: float, seed: int) -> None:
        self.stack = stack
        self.seconds = seconds
        self.seed = seed
        self.rng = random.Random(seed)
        self.series: dict[int, Series] = {}
        self.runs: list[dict[str, Any]] = []
        self.faults: list[dict[str, Any]] = []
        self.failures: list[str] = []

    async def _sampler(self) -> None:
        while True:
            now = time.monotonic()
            for m in self.stack.processes:
                if m.alive() and (sample := _sample(m.pid)) is not None:
                    series = self.series.setdefault(m.pid, Series(f"{m.name}.{m.generation}", m.pid))
                    series.samples.append((now, *sample))
            await asyncio.sleep(1.0)

    async def _settle(self, run_id: str, started: float) -> None:
        try:
            await until(
                lambda: self.stack.fetchval(
                    "SELECT status = ANY($2::text[]) FROM runs WHERE id = $1", run_id, list(TERMINAL)
                ),
                what=f"run {run_id} to end",
                within=300,
                every=0.2,
            )
            verdict = await check_run(self.stack, run_id, expect="SUCCEEDED")
            self.runs.append(
                {"run_id": run_id, "duration_s": round(time.monotonic() - started, 2), **verdict.as_dict()}
            )
        except Exception as exc:  # an assertion or a harness error: a failure on record
            self.failures.append(f"{type(exc).__name__}: {exc}"[:1000])

    async def _background(self, deadline: float) -> None:
        """Keep ordinary runs going (each checked when it ends)."""
        while time.monotonic() < deadline:
            started = time.monotonic()
            run_id = await self.stack.create_run(f"hold:{self.rng.uniform(0, 0.5):.2f}")
            await self._settle(run_id, started)

    async def _faults(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            await asyncio.sleep(self.rng.uniform(2, 8))
            name = self.rng.choice(FAULTS)
            started = time.monotonic()
            try:
                outcome: Outcome = await SCENARIOS[name](self.stack, random.Random(self.rng.random()))
            except Exception as exc:  # an assertion or a harness error: a failure on record
                self.failures.append(f"{name}: {type(exc).__name__}: {exc}"[:1000])
                continue
            self.faults.append(
                {"scenario": name, "recovery_s": round(outcome.recovery_s, 3), "fault": outcome.fault}
            )
            await self._settle(outcome.run_id, started)
            await self.stack.all_serving()

    async def run(self) -> dict[str, Any]:
        """Soak for ``seconds``; the result document."""
        sampler = asyncio.create_task(self._sampler())
        deadline = time.monotonic() + self.seconds
        try:
            await asyncio.gather(
                self._faults(deadline), *(self._background(deadline) for _ in range(BACKGROUND_RUNS))
            )
        finally:
            sampler.cancel()
        long_lived = [s for s in self.series.values() if s.lifetime >= self.seconds * MIN_LIFETIME_FRACTION]
        growth = sorted((s.growth() for s in long_lived), key=lambda g: g["process"])
        over = [g for g in growth if g["rss_growth_mb"] > RSS_GROWTH_MB or g["fd_growth"] > FD_GROWTH]
        return {
            "seconds": self.seconds,
            "seed": self.seed,
            "runs": len(self.runs),
            "faults": len(self.faults),
            "faults_by_kind": {n: sum(f["scenario"] == n for f in self.faults) for n in FAULTS},
            "recovery_s": percentiles([f["recovery_s"] for f in self.faults]),
            "run_duration_s": percentiles([r["duration_s"] for r in self.runs]),
            "invariants": {
                k: sum(r[k] for r in self.runs) for k in ("lost", "duplicated", "orphans", "paid_twice")
            },
            "ledger_ok": all(r["ledger_ok"] for r in self.runs),
            "processes": growth,
            "restarts": {m.name: len(m.restarts) for m in self.stack.processes},
            "bounds": {
                "rss_growth_mb": RSS_GROWTH_MB,
                "fd_growth": FD_GROWTH,
                "min_lifetime_s": round(self.seconds * MIN_LIFETIME_FRACTION, 1),
            },
            "over_bounds": over,
            "failures": self.failures,
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "environment": {"cpus": os.cpu_count(), "loadavg": [round(x, 2) for x in os.getloadavg()]},
        }


async def soak(seconds: float, seed: int, results: Path) -> dict[str, Any]:
    """Run one soak and write ``<results>/soak.json``."""
    with tempfile.TemporaryDirectory(prefix="ideamine-soak-") as logs:
        async with ChaosStack(Path(logs)) as stack:
            doc = await Soak(stack, seconds, seed).run()
    results.mkdir(parents=True, exist_ok=True)
    (results / "soak.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return doc


def main(argv: list[str] | None = None) -> int:
    """Command line: run the soak, print the verdict; exit 1 when anything did not hold."""
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", "600")))
    parser.add_argument(
        "--seed", type=int, default=int(os.environ.get("CHAOS_SEED") or random.randrange(1, 10**9))
    )
    parser.add_argument("--results", type=Path, default=Path(os.environ.get("CHAOS_RESULTS") or RESULTS))
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    doc = asyncio.run(soak(args.seconds, args.seed, args.results))
    print(
        json.dumps(
            {k: doc[k] for k in ("runs", "faults", "recovery_s", "invariants", "over_bounds", "failures")},
            indent=1,
        )
    )
    ok = not doc["failures"] and not doc["over_bounds"] and doc["ledger_ok"] and doc["runs"] > 0
    print(
        f"soak {'held' if ok else 'FAILED'}: {doc['runs']} runs, {doc['faults']} faults, seed {args.seed}",
        file=sys.stderr,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
