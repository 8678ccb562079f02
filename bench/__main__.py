"""``python -m bench`` (``make bench``): every benchmark, then docs/benchmarks.md and the chart.

Each benchmark runs as its own ``python -m bench.<name>`` process, one after another, so
they never compete for the two cores; one that fails is reported and the rest still
run (exit status 1 at the end). Afterwards ``scripts/gen_bench_docs.py`` rebuilds
``docs/benchmarks.md`` and ``docs/benchmarks.png`` from ``bench/results/*.json``.

``--quick`` is a small smoke of this suite's distributed benchmarks (tiny sizes, results
in ``bench/results/quick/`` so the real ones are never overwritten, docs rendered there
too); ``--only a,b`` picks benchmarks by name.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUICK_RESULTS = ROOT / "bench" / "results" / "quick"

#: name → (arguments of the full run, arguments of --quick or None when not part of it)
STEPS: dict[str, tuple[list[str], list[str] | None]] = {
    "throughput": ([], ["--tasks=60", "--runs=3", "--concurrency=8"]),
    "latency": ([], ["--rates=20,50", "--seconds=1", "--runs=2"]),
    "recovery": (
        ["--lease-seconds=15", "--lease-seconds=5"],
        ["--tasks=8", "--sleep=60", "--lease-seconds=2"],
    ),
    "scale": (
        [],
        ["--hosts=1,2", "--tasks=40", "--runs=2", "--concurrency=8", "--concurrent-runs=20", "--hold=1"],
    ),
    "store": ([], None),
    "queue": ([], None),
    "agents": ([], None),
    "pipeline": ([], ["--examples=todo-app", "--delay-ms=50", "--hosts=1"]),
    "gateway": ([], None),
}
#: benchmarks that take --results (the others always write bench/results/)
_OWN_RESULTS = {"throughput", "latency", "recovery", "scale", "pipeline"}


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks in order, then the docs generator; 1 if any failed."""
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes, results in bench/results/quick/")
    p.add_argument("--only", help=f"comma list of: {', '.join(STEPS)}")
    p.add_argument(
        "--results", type=Path, help="result directory (default bench/results, quick: bench/results/quick)"
    )
    p.add_argument("--no-docs", action="store_true", help="do not regenerate the docs")
    args = p.parse_args(argv)
    names = [n for n in (args.only or "").split(",") if n] or [
        n for n, (_, quick) in STEPS.items() if not args.quick or quick is not None
    ]
    unknown = [n for n in names if n not in STEPS]
    if unknown:
        p.error(f"--only: unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(STEPS)}")
    results = args.results or (QUICK_RESULTS if args.quick else None)
    failed = []
    for name in names:
        full, quick = STEPS[name]
        step = list(quick if args.quick and quick is not None else full)
        if results is not None and name in _OWN_RESULTS:
            step.append(f"--results={results}")
        print(f"== bench.{name} {' '.join(step)}", flush=True)
        started = time.monotonic()
        code = subprocess.run([sys.executable, "-m", f"bench.{name}", *step], cwd=ROOT).returncode
        print(
            f"== bench.{name}: {'ok' if code == 0 else f'FAILED (exit {code})'} in {time.monotonic() - started:.0f} s"
        )
        if code:
            failed.append(name)
    if not args.no_docs:
        out = [] if results is None else [f"--results={results}", f"--out={results}"]
        if subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "gen_bench_docs.py"), *out], cwd=ROOT
        ).returncode:
            failed.append("docs")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
