"""The faults: one coroutine per scenario, each injecting its fault into one fresh run.

A scenario gets the stack and a seeded ``random.Random`` (fault timing, victims and
sizes are drawn from it, so an iteration is reproducible from its seed), starts a run,
breaks something at a random moment and returns an :class:`Outcome`: the run, the status
it must end in, what was done and how long recovery took. The runner then waits for
the run to end and checks the invariants (:mod:`tests.chaos.invariants`).

"Recovery" is measured per fault as the time from the fault until the system visibly
did the interrupted work again (defined in each docstring); it is what
``docs/reliability.md`` reports percentiles of.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import grpc

from ideamine._proto.ideamine.v1 import agent_host_pb2, agent_host_pb2_grpc, common_pb2
from ideamine.store._shared import TIMER_CLAIM_TIMEOUT
from tests.chaos.stack import ChaosStack
from tests.llm.fake_messages_server import error_reply
from tests.polling import eventually as until

__all__ = ["LANES", "Outcome", "SCENARIOS", "TERMINAL", "until"]

TERMINAL = ("SUCCEEDED", "FAILED", "NEEDS_WAIVER", "CANCELLED")


@dataclass
class Outcome:
    """What one scenario iteration did."""

    run_id: str
    expect: str
    recovery_s: float
    fault: dict[str, Any] = field(default_factory=dict)


async def _started(stack: ChaosStack, run_id: str, attempt: int = 1) -> tuple[int, float]:
    """(pid, unix time) of the host that started the chaos task's ``attempt``."""

    async def check() -> tuple[int, float] | None:
        found = [(int(n.rsplit(".", 1)[1]), t) for n, t in stack.marker(run_id, f"started.{attempt}.")]
        return found[0] if found else None

    return await until(check, what=f"the chaos task (attempt {attempt}) to start", within=180)


async def _chaos_done(stack: ChaosStack, run_id: str) -> float:
    """Unix time the chaos task succeeded (waits for it)."""

    async def check() -> float | None:
        value = await stack.fetchval(
            "SELECT extract(epoch FROM finished_at) FROM tasks WHERE run_id = $1 AND task_key = 'chaos'"
            " AND status = 'SUCCEEDED'",
            run_id,
        )
        return float(value) if value is not None else None

    return await until(check, what="the chaos task to succeed", within=180)


async def _progress_after(
    stack: ChaosStack, run_id: str, since: float, *, started_after: bool = True
) -> float:
    """Unix time the first task *started* after ``since`` finished: one whole cycle (publish,
    deliver, run, commit) went through the restored dependency (waits for one). With
    ``started_after=False``: the first task that finished after ``since``, whenever it started."""
    column = "started_at" if started_after else "finished_at"

    async def check() -> float | None:
        value = await stack.fetchval(
            "SELECT extract(epoch FROM min(finished_at)) FROM tasks WHERE run_id = $1"
            f" AND {column} > to_timestamp($2) AND finished_at IS NOT NULL",
            run_id,
            since,
        )
        return float(value) if value is not None else None

    return await until(check, what="a task to go through after the fault", within=180)


async def _mid_task(stack: ChaosStack, rng: random.Random) -> tuple[str, int, float]:
    """A run whose chaos task is running (gated: it waits for :meth:`ChaosStack.release`),
    returned after a random delay — the fault lands mid-task, at a random moment."""
    run_id = await stack.create_run("gate:90")
    pid, _ = await _started(stack, run_id)
    delay = rng.uniform(0.05, 0.6)
    await asyncio.sleep(delay)
    return run_id, pid, round(delay, 3)


async def host_kill(stack: ChaosStack, rng: random.Random) -> Outcome:
    """kill -9 the agent host running the chaos task. Recovery: kill → the task committed by another host."""
    run_id, pid, delay = await _mid_task(stack, rng)
    victim = stack.host_of(pid)
    t = time.time()
    os.kill(pid, signal.SIGKILL)
    stack.release(run_id)
    done = await _chaos_done(stack, run_id)
    attempt = await stack.fetchval(
        "SELECT attempt FROM tasks WHERE run_id = $1 AND task_key = 'chaos'", run_id
    )
    assert attempt >= 2, "the killed attempt was the one committed"
    return Outcome(
        run_id, "SUCCEEDED", done - t, {"signal": "SIGKILL", "victim": victim.name, "after_s": delay}
    )


async def host_freeze(stack: ChaosStack, rng: random.Random) -> Outcome:
    """SIGSTOP the host running the chaos task past its lease, SIGCONT after the task moved on:
    the thawed worker either learns from its next lease renewal that the lease is lost and
    stops the attempt, or finishes it first and its commit must be fenced — either way no
    second result and no artifact of it. Recovery: stop → committed by another host."""
    run_id, pid, delay = await _mid_task(stack, rng)
    victim = stack.host_of(pid)
    task_id = str(
        await stack.fetchval("SELECT id FROM tasks WHERE run_id = $1 AND task_key = 'chaos'", run_id)
    )
    t = time.time()
    os.kill(pid, signal.SIGSTOP)
    try:
        stack.release(run_id)
        done = await _chaos_done(stack, run_id)
        await asyncio.sleep(rng.uniform(0, 1.0))  # thaw at a random moment after the takeover
    finally:
        os.kill(pid, signal.SIGCONT)
    await until(lambda: _let_go(victim, task_id), what="the thawed worker to give the stale attempt up")
    stale = (
        "finished, commit fenced" if await _finished_stale(stack, run_id, pid) else "stopped on lost lease"
    )
    results = await stack.fetch(
        "SELECT tr.attempt, a.content->>'pid' AS pid FROM task_results tr JOIN tasks t ON t.id = tr.task_id"
        " JOIN artifacts a ON a.task_id = t.id AND a.type = 'chaos-report' WHERE t.id = $1",
        task_id,
    )
    assert len(results) == 1, f"{len(results)} results/artifacts for the task"
    assert results[0]["attempt"] >= 2 and int(results[0]["pid"]) != pid, "the frozen attempt was committed"
    fault = {"signal": "SIGSTOP", "victim": victim.name, "after_s": delay, "stale_attempt": stale}
    return Outcome(run_id, "SUCCEEDED", done - t, fault)


async def _finished_stale(stack: ChaosStack, run_id: str, pid: int) -> bool:
    return bool(stack.marker(run_id, f"finished.1.{pid}"))


async def _let_go(host: Any, task_id: str) -> bool:
    """Whether ``host`` no longer runs ``task_id`` (its commit attempt returned)."""
    async with grpc.aio.insecure_channel(host.address) as channel:
        status = await agent_host_pb2_grpc.AgentHostServiceStub(channel).GetStatus(
            agent_host_pb2.GetStatusRequest(), timeout=5
        )
    return task_id not in status.running_task_ids


async def orchestrator_kill(stack: ChaosStack, rng: random.Random) -> Outcome:
    """kill -9 the orchestrator owning the run, mid-task. Recovery: kill → the other replica owns it."""
    run_id, _, delay = await _mid_task(stack, rng)
    owner = str(await stack.fetchval("SELECT owner FROM run_leases WHERE run_id = $1", run_id))
    victim = stack.orchestrator_of(owner)
    assert victim is not None, f"no live orchestrator runs as {owner}"
    t = time.time()
    os.kill(victim.pid, signal.SIGKILL)
    new_owner = await until(
        lambda: _owner_other_than(stack, run_id, owner), what="another replica to own the run"
    )
    recovery = time.time() - t
    stack.release(run_id)
    return Outcome(run_id, "SUCCEEDED", recovery, {"victim": owner, "new_owner": new_owner, "after_s": delay})


async def _owner_other_than(stack: ChaosStack, run_id: str, old: str) -> str | None:
    row = await stack.fetch("SELECT owner FROM run_leases WHERE run_id = $1", run_id)
    status = await stack.fetchval("SELECT status FROM runs WHERE id = $1", run_id)
    if row and row[0]["owner"] and row[0]["owner"] != old:
        return str(row[0]["owner"])
    return "(released: the run ended)" if status in TERMINAL else None


async def _redis_restart(stack: ChaosStack, rng: random.Random, *, keep_data: bool) -> Outcome:
    run_id, _, delay = await _mid_task(stack, rng)
    how = rng.choice([signal.SIGKILL, signal.SIGTERM]) if keep_data else signal.SIGKILL
    t = time.time()
    await stack.redis.stop(how)
    if not keep_data:
        shutil.rmtree(stack.redis.directory / "appendonlydir", ignore_errors=True)
    await stack.redis.start()
    back = time.time()
    stack.release(run_id)
    progress = await _progress_after(stack, run_id, back)
    fault = {"signal": how.name, "aof": keep_data, "down_s": round(back - t, 3), "after_s": delay}
    return Outcome(run_id, "SUCCEEDED", progress - t, fault)


async def redis_restart_aof(stack: ChaosStack, rng: random.Random) -> Outcome:
    """Restart Redis (AOF, fsync always; SIGKILL or SIGTERM) mid-task. Recovery: down → next task done."""
    return await _redis_restart(stack, rng, keep_data=True)


async def redis_restart_empty(stack: ChaosStack, rng: random.Random) -> Outcome:
    """Redis comes back empty (no persistence): streams, groups and messages gone; the
    reconciler re-publishes from PostgreSQL. Recovery: down → next task done."""
    return await _redis_restart(stack, rng, keep_data=False)


async def _pg_restart(stack: ChaosStack, rng: random.Random, mode: str) -> Outcome:
    run_id, _, delay = await _mid_task(stack, rng)
    t = time.time()
    await stack.pg.restart(mode)
    back = time.time()
    stack.release(run_id)
    progress = await _progress_after(stack, run_id, back)
    fault = {"mode": mode, "down_s": round(back - t, 3), "after_s": delay}
    return Outcome(run_id, "SUCCEEDED", progress - t, fault)


async def pg_restart_fast(stack: ChaosStack, rng: random.Random) -> Outcome:
    """``pg_ctl restart -m fast`` mid-task. Recovery: restart begun → next task done."""
    return await _pg_restart(stack, rng, "fast")


async def pg_restart_immediate(stack: ChaosStack, rng: random.Random) -> Outcome:
    """``pg_ctl restart -m immediate`` (crash + WAL recovery) mid-task. Recovery as above."""
    return await _pg_restart(stack, rng, "immediate")


async def poison(stack: ChaosStack, rng: random.Random) -> Outcome:
    """A task that kills its host on every delivery: dead after its delivery limit, the run
    fails cleanly. Recovery: run created → run FAILED (how long a poison pill costs).

    Poison runs go four at a time, so a host is often killed under *another* run's task:
    such collateral losses count as that task's attempts too (a crash cannot tell which of
    a host's tasks caused it), and a run whose earlier intake task used up its deliveries
    that way fails before its poison task is planned — also a clean failure, recorded as
    ``collateral``.
    """
    t = time.time()
    run_id = await stack.create_run("poison")
    await until(
        lambda: stack.fetchval("SELECT status IN ('FAILED', 'NEEDS_WAIVER') FROM runs WHERE id = $1", run_id),
        what="the poisoned run to fail",
        within=300,
        every=0.1,
    )
    rows = {
        r["task_key"]: r
        for r in await stack.fetch(
            "SELECT task_key, status, attempt, max_deliveries FROM tasks WHERE run_id = $1", run_id
        )
    }
    dead = sorted(k for k, r in rows.items() if r["status"] == "DEAD")
    assert dead, (
        f"the poisoned run failed with no DEAD task: {sorted((k, r['status']) for k, r in rows.items())}"
    )
    if "chaos" in rows:
        assert rows["chaos"]["status"] == "DEAD", f"the poison task ended {rows['chaos']['status']}, not DEAD"
    for key in dead:
        assert rows[key]["attempt"] <= rows[key]["max_deliveries"], (
            f"{key}: {rows[key]['attempt']} attempts > limit {rows[key]['max_deliveries']}"
        )
    crashes = len(stack.marker(run_id, "started."))
    fault = {"host_crashes": crashes, "dead": dead, "collateral": "chaos" not in rows}
    return Outcome(run_id, "FAILED", time.time() - t, fault)


async def model_burst(stack: ChaosStack, rng: random.Random) -> Outcome:
    """The model server answers a burst of 429/529/500 to the next calls, scripted a random
    moment after the run was created (while its intake tasks call the model, one after the
    other). Recovery: burst start → first task finished after the whole burst was consumed
    (the one whose retries met its end)."""
    run_id = await stack.create_run(f"hold:{rng.uniform(0.2, 0.6):.2f}")
    await asyncio.sleep(rng.uniform(0, 0.3))  # fault timing, not a wait for an effect
    kinds = [rng.choice(["429", "529", "500"]) for _ in range(rng.randint(2, 6))]
    burst = [
        error_reply(429, error_type="rate_limit_error", retry_after=f"{rng.uniform(0.05, 0.4):.2f}")
        if k == "429"
        else error_reply(int(k), error_type="overloaded_error" if k == "529" else "api_error")
        for k in kinds
    ]
    before = stack.model.pending
    t = time.time()
    stack.model.script_next(*burst)
    await until(lambda: _consumed(stack, before), what="the burst to be answered")
    consumed = time.time()
    progress = await _progress_after(stack, run_id, consumed, started_after=False)
    return Outcome(run_id, "SUCCEEDED", progress - t, {"burst": kinds, "consumed_s": round(consumed - t, 3)})


async def _consumed(stack: ChaosStack, before: int) -> bool:
    return stack.model.pending <= before


async def clock_jump(stack: ChaosStack, rng: random.Random) -> Outcome:
    """A run waiting for a human approval (durable answer-deadline timer); the clock jumps.

    Forward (timer and deadline moved into the past together): the timer fires once and
    the run goes on, approved by default — sometimes with the owning orchestrator killed
    at that moment, and sometimes killed right after it *claimed* the timer (a crash
    between mark and act: the claim must expire and the new owner fire it). Backward
    (moved years ahead): nothing fires; a human answer finishes the run. An extra timer
    of an unknown kind, already due, is armed too: firing it must be harmless.
    Recovery: jump (or answer) → the run left AWAITING_INPUT.
    """
    run_id = await stack.create_run("hold:0", policy=common_pb2.POLICY_APPROVE_EACH_PHASE)
    await until(
        lambda: stack.fetchval("SELECT status = 'AWAITING_INPUT' FROM runs WHERE id = $1", run_id),
        what="the run to wait for approval",
    )
    forward = rng.random() < 0.5
    kill = (
        "claimed" if forward and rng.random() < 0.5 else ("killed" if forward and rng.random() < 0.5 else "")
    )
    shift = (
        -timedelta(hours=24, minutes=rng.uniform(1, 600))
        if forward
        else timedelta(days=rng.uniform(30, 3650))
    )
    owner = str(await stack.fetchval("SELECT owner FROM run_leases WHERE run_id = $1", run_id))
    victim = stack.orchestrator_of(owner) if kill else None
    if victim is not None:
        os.kill(victim.pid, signal.SIGSTOP)  # it sees nothing of the jump before it dies
    t = time.time()
    async with stack.db.acquire() as conn, conn.transaction():  # the clock moves for both at once
        await conn.execute(
            "UPDATE timers SET fire_at = fire_at + $2 WHERE run_id = $1 AND fired_at IS NULL", run_id, shift
        )
        await conn.execute(
            "UPDATE questions SET deadline = deadline + $2 WHERE run_id = $1 AND deadline IS NOT NULL",
            run_id,
            shift,
        )
    await stack.store.arm_timer(
        run_id, kind="chaos-unknown", key=f"k{rng.randint(0, 9)}", fire_at=_past(rng), payload={}
    )
    if victim is not None:
        if kill == "claimed":  # what the victim did last: mark the due timers as its own
            await stack.store.claim_due_timers(owner=victim.replica_id, run_ids=[run_id])
        os.kill(victim.pid, signal.SIGKILL)
    if not forward:
        async with stack.client() as c:
            [q] = [q for q in await c.list_questions(run_id) if "Approve" in q.text]
            await c.answer_question(run_id, q.id, "approve")
    await until(
        lambda: stack.fetchval("SELECT status <> 'AWAITING_INPUT' FROM runs WHERE id = $1", run_id),
        what="the run to resume",
        # a claim the dead owner left must expire first: only then may the new owner fire it
        within=10 + (TIMER_CLAIM_TIMEOUT.total_seconds() if kill == "claimed" else 0),
    )
    recovery = time.time() - t
    resumed = await stack.fetchval(
        "SELECT count(*) FROM ledger WHERE run_id = $1 AND type = 'run.resumed'", run_id
    )
    assert resumed <= 1, f"the run resumed {resumed} times for one deadline"
    fault = {
        "direction": "forward" if forward else "backward",
        "shift_s": round(shift.total_seconds()),
        "owner": kill or "alive",
    }
    return Outcome(run_id, "SUCCEEDED", recovery, fault)


def _past(rng: random.Random) -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC) - timedelta(seconds=rng.uniform(1, 86_400))


#: scenario name → coroutine, in the order they run
SCENARIOS: dict[str, Callable[[ChaosStack, random.Random], Awaitable[Outcome]]] = {
    "host_kill": host_kill,
    "host_freeze": host_freeze,
    "orchestrator_kill": orchestrator_kill,
    "redis_restart_aof": redis_restart_aof,
    "redis_restart_empty": redis_restart_empty,
    "pg_restart_fast": pg_restart_fast,
    "pg_restart_immediate": pg_restart_immediate,
    "poison": poison,
    "model_burst": model_burst,
    "clock_jump": clock_jump,
}

#: scenarios whose iterations run several at once (their faults are self-inflicted and slow)
LANES: dict[str, int] = {"poison": 4}
