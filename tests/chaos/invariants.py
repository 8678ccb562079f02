"""What every chaos iteration must hold, read straight from PostgreSQL after the run ended.

1. **Correct terminal state**: the run ended with the status the scenario expects.
2. **Zero lost tasks**: no task of the run is left PENDING, QUEUED or RUNNING; in a
   succeeded run every task slot's latest attempt succeeded (none was abandoned).
3. **Zero duplicated effects**: one committed result per idempotency key and per task;
   every stored artifact belongs to exactly one committed result (no orphans from a
   fenced or crashed attempt), each (task, type, key) once; one ``task.succeeded`` ledger
   event per succeeded task.
4. **The ledger chain verifies** (the store recomputes every hash and checks the head).
5. **No model call paid twice for a committed task**: after a task's result was
   committed, no model call was made for its idempotency key again (a redelivered or
   re-planned task whose effect exists is acknowledged, never re-run).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from tests.chaos.stack import ChaosStack, retrying

__all__ = ["Verdict", "check_run", "OPEN"]

#: task states a finished run must not leave behind
OPEN = ("PENDING", "QUEUED", "RUNNING")


@dataclass
class Verdict:
    """The counts behind the invariants (all "problem" counts must be 0)."""

    status: str
    tasks: int
    attempts: int
    results: int
    artifacts: int
    llm_calls: int
    lost: int
    duplicated: int
    orphans: int
    paid_twice: int
    ledger_rows: int
    ledger_ok: bool

    def as_dict(self) -> dict[str, Any]:
        """For the JSON result."""
        return asdict(self)


async def check_run(stack: ChaosStack, run_id: str, *, expect: str) -> Verdict:
    """Check every invariant of one finished run; AssertionError names each violation."""
    status = await stack.fetchval("SELECT status FROM runs WHERE id = $1", run_id)
    tasks = await stack.fetch(
        "SELECT id, task_key, phase, phase_attempt, status, attempt, idempotency_key FROM tasks WHERE run_id = $1",
        run_id,
    )
    results = await stack.fetch(
        "SELECT tr.idempotency_key, tr.task_id, tr.attempt, tr.artifact_ids, tr.committed_at FROM task_results tr "
        "JOIN tasks t ON t.id = tr.task_id WHERE t.run_id = $1",
        run_id,
    )
    artifacts = await stack.fetch("SELECT id, task_id, type, key FROM artifacts WHERE run_id = $1", run_id)
    calls = await stack.fetch(
        "SELECT c.created_at, t.idempotency_key FROM llm_calls c JOIN tasks t ON t.id = c.task_id WHERE c.run_id = $1",
        run_id,
    )
    events = await stack.fetch(
        "SELECT task_id FROM ledger WHERE run_id = $1 AND type = 'task.succeeded'", run_id
    )
    ledger = await retrying(lambda: stack.store.verify_ledger(run_id))

    latest: dict[tuple[str, str], Any] = {}
    for t in tasks:
        key = (t["phase"], t["task_key"])
        if key not in latest or t["phase_attempt"] >= latest[key]["phase_attempt"]:
            latest[key] = t
    lost = sum(t["status"] in OPEN for t in tasks)
    if expect == "SUCCEEDED":
        lost += sum(t["status"] != "SUCCEEDED" for t in latest.values())

    per_key = Counter(r["idempotency_key"] for r in results)
    per_task = Counter(str(r["task_id"]) for r in results)
    committed = Counter(str(a) for r in results for a in r["artifact_ids"])
    per_slot = Counter((str(a["task_id"]), a["type"], a["key"]) for a in artifacts)
    succeeded_events = Counter(str(e["task_id"]) for e in events)
    duplicated = sum(
        n - 1 for c in (per_key, per_task, committed, per_slot, succeeded_events) for n in c.values() if n > 1
    )
    orphans = sum(str(a["id"]) not in committed for a in artifacts) + sum(
        a not in {str(x["id"]) for x in artifacts} for a in committed
    )
    first_commit = {r["idempotency_key"]: r["committed_at"] for r in results}
    paid_twice = sum(
        1
        for c in calls
        if c["idempotency_key"] in first_commit and c["created_at"] > first_commit[c["idempotency_key"]]
    )

    verdict = Verdict(
        status=str(status),
        tasks=len(latest),
        attempts=sum(t["attempt"] for t in tasks),
        results=len(results),
        artifacts=len(artifacts),
        llm_calls=len(calls),
        lost=lost,
        duplicated=duplicated,
        orphans=orphans,
        paid_twice=paid_twice,
        ledger_rows=ledger.rows,
        ledger_ok=ledger.ok,
    )
    problems = [f"status {status}, expected {expect}"] if status != expect else []
    problems += [
        f"{name} = {getattr(verdict, name)}"
        for name in ("lost", "duplicated", "orphans", "paid_twice")
        if getattr(verdict, name)
    ]
    if not ledger.ok:
        problems.append(f"ledger: {ledger.reason} at seq {ledger.first_bad_seq}")
    assert not problems, f"run {run_id}: {'; '.join(problems)} ({verdict})"
    return verdict
