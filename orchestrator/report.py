"""Run outputs: every artifact as JSON and Markdown, ``report.md`` and the ledger.

Everything is read back from the store (never from in-memory state), so the same writer
serves a finished run, a stopped one and ``ideamine report`` on an old directory.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ideamine.store.base import RunStore
from ideamine.store.records import ArtifactRecord, LedgerRecord, LLMCallRecord

__all__ = ["write_outputs", "traceability_rows", "traceability_table"]

Renderer = Callable[[str, dict[str, Any], str], str]


def _artifact_stem(a: ArtifactRecord) -> str:
    return f"{a.type}.{a.key}" if a.key else a.type


def traceability_rows(artifacts: Sequence[ArtifactRecord]) -> list[dict[str, Any]]:
    """FR/NFR → stories → acceptance criteria → test cases, from the run's artifacts."""
    latest = {a.type: a.content for a in artifacts if not a.key}
    prd = latest.get("prd") or {}
    stories = (latest.get("user-stories") or {}).get("stories", [])
    cases = (latest.get("test-plan") or {}).get("cases", [])
    tc_by_ac: dict[str, list[str]] = defaultdict(list)
    for c in cases:
        for ac in c.get("ac_ids", []):
            tc_by_ac[ac].append(c.get("id", "?"))
    rows = []
    for req in list(prd.get("requirements", [])) + list(prd.get("nfrs", [])):
        rid = req.get("id")
        covering = [s for s in stories if rid in s.get("requirement_ids", [])]
        acs = [a.get("id") for s in covering for a in s.get("acceptance", []) if isinstance(a, dict)]
        rows.append(
            {
                "requirement_id": rid,
                "story_ids": [s.get("id") for s in covering],
                "acceptance_ids": acs,
                "test_case_ids": sorted({tc for ac in acs for tc in tc_by_ac.get(str(ac), [])}),
            }
        )
    return rows


def traceability_table(artifacts: Sequence[ArtifactRecord]) -> list[str]:
    """The traceability matrix as Markdown table lines (report and dossier share it)."""
    return [
        "| requirement | stories | acceptance criteria | test cases |",
        "|---|---|---|---|",
        *[
            f"| {r['requirement_id']} | {', '.join(map(str, r['story_ids'])) or '-'} | "
            f"{', '.join(map(str, r['acceptance_ids'])) or '-'} | {', '.join(r['test_case_ids']) or '-'} |"
            for r in traceability_rows(artifacts)
        ],
    ]


def _timeline(events: Sequence[LedgerRecord]) -> list[str]:
    start: dict[str, Any] = {}
    lines = ["| phase | started | finished | seconds | result |", "|---|---|---|---|---|"]
    t0 = events[0].created_at if events else None
    for e in events:
        if e.phase and e.type == "phase.started" and e.phase not in start:
            start[e.phase] = e.created_at
        if (
            e.phase
            and e.type in ("phase.completed", "phase.failed", "phase.waived")
            and e.phase in start
            and t0
        ):
            s = start[e.phase]
            lines.append(
                f"| {e.phase} | +{(s - t0).total_seconds():.2f}s | +{(e.created_at - t0).total_seconds():.2f}s "
                f"| {(e.created_at - s).total_seconds():.2f} | {e.type.split('.')[1]} |"
            )
    return lines


def _costs(calls: Sequence[LLMCallRecord]) -> list[str]:
    by: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0, 0.0, 0])
    for c in calls:
        row = by[(c.phase or "-", c.model)]
        row[0] += c.input_tokens
        row[1] += c.output_tokens
        row[2] += c.cost_usd
        row[3] += 1
    lines = ["| phase | model | calls | input tokens | output tokens | USD |", "|---|---|---|---|---|---|"]
    for (phase, model), (i, o, usd, n) in sorted(by.items()):
        lines.append(f"| {phase} | {model} | {int(n)} | {int(i)} | {int(o)} | {usd:.4f} |")
    total = sum(c.cost_usd for c in calls)
    lines.append(
        f"| **total** | | {len(calls)} | {sum(c.input_tokens for c in calls)} | {sum(c.output_tokens for c in calls)} | {total:.4f} |"
    )
    return lines


async def write_outputs(store: RunStore, run_id: str, out_dir: Path, render: Renderer) -> Path:
    """Write artifacts, the ledger and ``report.md`` for ``run_id`` into ``out_dir``."""
    run = await store.get_run(run_id)
    artifacts = await store.list_artifacts(run_id)
    events = await store.list_events(run_id, limit=1_000_000)
    calls = await store.list_llm_calls(run_id=run_id)
    gates = await store.list_gate_evaluations(run_id)
    questions = await store.list_questions(run_id)
    assumptions = await store.list_assumptions(run_id)
    art_dir = out_dir / "artifacts"
    for a in artifacts:
        d = art_dir / a.phase
        d.mkdir(parents=True, exist_ok=True)
        meta = {
            "id": a.id,
            "type": a.type,
            "phase": a.phase,
            "version": a.version,
            "sha256": a.sha256,
            "model": a.model,
        }
        (d / f"{_artifact_stem(a)}.json").write_text(
            json.dumps({"meta": meta, "content": a.content}, indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        (d / f"{_artifact_stem(a)}.md").write_text(render(a.type, a.content, a.model), encoding="utf-8")
    with (out_dir / "ledger.jsonl").open("w", encoding="utf-8") as f:
        for e in events:
            f.write(
                json.dumps(
                    {
                        "seq": e.seq,
                        "type": e.type,
                        "phase": e.phase,
                        "task_id": e.task_id,
                        "payload": e.payload,
                        "created_at": e.created_at.isoformat(),
                        "prev_hash": e.prev_hash,
                        "hash": e.hash,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    models = sorted({a.model for a in artifacts})
    lines = [
        f"# {run.title}",
        "",
        f"- Run: `{run.id}` — status **{run.status.value}**",
        f"- Phases: {', '.join(run.phases)}",
        f"- Models: {', '.join(models) or '-'}"
        + (" (offline: deterministic generator, no LLM was called)" if models == ["offline"] else ""),
        f"- Artifacts: {len(artifacts)}; ledger rows: {len(events)}",
        "",
        "## Phase timeline",
        "",
        *_timeline(events),
        "",
        "## Gates",
        "",
        "| phase | attempt | score | decision | findings |",
        "|---|---|---|---|---|",
        *[
            f"| {g.phase} | {g.attempt} | {g.score:.1f} | {g.decision.value} | {'; '.join(g.findings) or '-'} |"
            for g in gates
        ],
        "",
        "## Cost per phase and model",
        "",
        *_costs(calls),
        "",
        "## Traceability matrix",
        "",
        *traceability_table(artifacts),
        "",
        "## Assumptions",
        "",
        *([f"- {a.code} ({a.phase}): {a.text}" for a in assumptions] or ["- none"]),
        "",
        "## Questions",
        "",
        *(
            [
                f"- {q.code} ({q.phase}, {q.status.value}): {q.text} — {q.answer or 'unanswered'}"
                for q in questions
            ]
            or ["- none"]
        ),
        "",
    ]
    (out_dir / "report.md").write_text("\n".join(lines), encoding="utf-8")
    return out_dir / "report.md"
