"""The embedded default end to end: real SQLite, in-process queue, the offline model."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from ideamine import SchemaAgent, TaskInfo, catalogue_schemas, catalogue_tasks, hookimpl
from ideamine.agents import AgentContext, Artifact
from ideamine.embedded import EmbeddedRuntime
from ideamine.enums import GateDecision, RunStatus
from ideamine.llm.offline import OfflineProvider
from ideamine.runfile import load_run_file

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "orchestrations"


async def _run(
    tmp_path: Path, example: str, *, extra: tuple[Any, ...] = (), **overrides: Any
) -> tuple[EmbeddedRuntime, str, Any]:
    request = load_run_file(str(EXAMPLES / example))
    if overrides:
        from dataclasses import replace

        request = replace(request, **overrides)
    rt = EmbeddedRuntime(db_path=tmp_path / "db.sqlite3", provider=OfflineProvider(), extra_plugins=extra)
    await rt.open()
    run = await rt.submit(request)
    final = await rt.drive(run.id)
    return rt, run.id, final


async def test_todo_example_completes_with_artifacts_gates_and_a_valid_ledger(tmp_path: Path) -> None:
    rt, run_id, final = await _run(tmp_path, "todo-app.yaml")
    try:
        assert final.status is RunStatus.SUCCEEDED, final.status_reason
        artifacts = await rt.store.list_artifacts(run_id)
        types = {a.type for a in artifacts}
        for phase in final.phases:
            assert set(rt.catalogue.phase(phase).artifact_types) <= types
        assert all(a.model == "offline" for a in artifacts)
        gates = await rt.store.list_gate_evaluations(run_id)
        assert {g.phase for g in gates if g.decision is not GateDecision.FAIL} == set(final.phases)
        assert (await rt.store.verify_ledger(run_id)).ok
        events = [e.type for e in await rt.store.list_events(run_id, limit=100_000)]
        # acceptance 1: events in order for a phase
        intake = [e.type for e in await rt.store.list_events(run_id, limit=100_000) if e.phase == "intake"]
        order = [
            "phase.started",
            "task.queued",
            "task.started",
            "task.succeeded",
            "phase.ready",
            "gate.passed",
            "phase.completed",
        ]
        positions = [intake.index(t) for t in order]
        assert positions == sorted(positions), intake
        assert events[0] == "run.created" and events[-1] == "run.completed"
    finally:
        await rt.close()


async def test_security_and_story_loop_overlap_in_time(tmp_path: Path) -> None:
    rt, run_id, final = await _run(tmp_path, "healthcare-platform.yaml")
    try:
        assert final.status is RunStatus.SUCCEEDED, final.status_reason
        assert len(final.phases) == 13
        events = await rt.store.list_events(run_id, limit=100_000)
        span: dict[str, list[Any]] = {}
        for e in events:
            if e.phase in ("security", "story-loop") and e.type in ("phase.started", "phase.completed"):
                span.setdefault(e.phase, []).append(e.created_at)
        sec, story = span["security"], span["story-loop"]
        assert sec[0] < story[-1] and story[0] < sec[-1], span
        plans = [a for a in await rt.store.list_artifacts(run_id, type="story-plan")]
        assert len(plans) >= 3 and len({a.key for a in plans}) == len(plans)
    finally:
        await rt.close()


class _ForgetfulStoryWriter(SchemaAgent):
    """Third-party override of the PRD stories task: drops acceptance criteria until told."""

    name = "forgetful-stories"
    version = "0.1.0"
    phase = "prd"
    tasks = {k: v for k, v in catalogue_tasks("prd").items() if k == "stories"}
    schemas = {k: v for k, v in catalogue_schemas("prd").items() if k == "user-stories"}
    consumes = ("prd",)
    calls = 0

    async def run(self, context: AgentContext, task: TaskInfo) -> list[Artifact]:
        type(self).calls += 1
        from ideamine.plugins import get_plugin_manager  # noqa: F401  (import check only)

        produced = await super().run(context, task)
        if context.feedback:
            return produced
        content = json.loads(json.dumps(produced[0].content))
        for story in content["stories"]:
            story["acceptance"] = []
        return [Artifact("user-stories", content, produced[0].model)]


class _Plugin:
    @hookimpl
    def ideamine_register_agents(self) -> list[type[Any]]:
        return [_ForgetfulStoryWriter]


async def test_gate_loop_converges_after_bad_output_and_third_party_agent_replaces_builtin(
    tmp_path: Path,
) -> None:
    rt, run_id, final = await _run(tmp_path, "todo-app.yaml", extra=(_Plugin(),))
    try:
        assert final.status is RunStatus.SUCCEEDED, final.status_reason
        prd_gates = [g for g in await rt.store.list_gate_evaluations(run_id) if g.phase == "prd"]
        assert prd_gates[0].decision is GateDecision.FAIL
        assert any("acceptance" in f for f in prd_gates[0].findings), prd_gates[0].findings
        assert prd_gates[-1].decision is not GateDecision.FAIL and prd_gates[-1].attempt == 2
        # only the failing task (and the one after it) re-ran; requirements did not
        tasks = await rt.store.list_tasks(run_id, phase="prd")
        assert [t.task_key for t in tasks].count("requirements") == 1
        assert [t.task_key for t in tasks].count("stories") == 2
        assert _ForgetfulStoryWriter.calls == 2
    finally:
        await rt.close()


async def test_budget_exhaustion_pauses_and_a_raised_budget_resumes(tmp_path: Path) -> None:
    from dataclasses import replace

    from ideamine.store.records import BudgetLimits

    rt, run_id, final = await _run(tmp_path, "todo-app.yaml", budget=BudgetLimits(tokens=30_000))
    try:
        assert final.status is RunStatus.BUDGET_EXHAUSTED
        run = await rt.store.get_run(run_id)
        await rt.store.update_run_budget(run_id, replace(run.budget, tokens=10_000_000))
        final = await rt.drive(run_id)
        assert final.status is RunStatus.SUCCEEDED, final.status_reason
        types = [e.type for e in await rt.store.list_events(run_id, limit=100_000)]
        assert "run.budget_exhausted" in types and "run.resumed" in types
    finally:
        await rt.close()


async def _answer_waiting(rt: EmbeddedRuntime, run_id: str, text: str) -> int:
    from ideamine.enums import QuestionStatus

    waiting = [q for q in await rt.store.list_questions(run_id) if q.status is QuestionStatus.AWAITING_HUMAN]
    for q in waiting:
        await rt.store.answer_question(
            q.id,
            expected=[QuestionStatus.AWAITING_HUMAN],
            status=QuestionStatus.ANSWERED_BY_HUMAN,
            answer=text,
            confidence=1.0,
            scores={},
            answered_by="human:test",
        )
    return len(waiting)


async def test_qav_records_accepted_answers_and_assumptions(tmp_path: Path) -> None:
    from ideamine.enums import QuestionStatus

    rt, run_id, final = await _run(tmp_path, "iot-dashboard.yaml")
    try:
        assert final.status is RunStatus.SUCCEEDED
        questions = await rt.store.list_questions(run_id)
        statuses = {q.status for q in questions}
        assert QuestionStatus.ACCEPTED in statuses and QuestionStatus.ASSUMED in statuses
        accepted = [q for q in questions if q.status is QuestionStatus.ACCEPTED]
        assert all(q.scores["grounding"] >= 0.6 and (q.confidence or 0) >= 0.6 for q in accepted)
        assumptions = await rt.store.list_assumptions(run_id)
        assert {a.question_id for a in assumptions} == {
            q.id for q in questions if q.status is QuestionStatus.ASSUMED
        }
        limits = {p: rt.catalogue.phase(p).qav.max_questions for p in final.phases}
        for phase, limit in limits.items():
            assert len([q for q in questions if q.phase == phase]) <= limit
    finally:
        await rt.close()


async def test_ask_on_blocking_waits_for_a_human_then_continues(tmp_path: Path) -> None:
    from ideamine.enums import Policy

    rt, run_id, final = await _run(tmp_path, "todo-app.yaml", policy=Policy.ASK_ON_BLOCKING)
    try:
        assert final.status is RunStatus.AWAITING_INPUT
        for _ in range(10):
            assert (
                await _answer_waiting(rt, run_id, "Families with two parents and two children come first.")
                > 0
            )
            final = await rt.drive(run_id)
            if final.status is not RunStatus.AWAITING_INPUT:
                break
        assert final.status is RunStatus.SUCCEEDED
        types = [e.type for e in await rt.store.list_events(run_id, limit=100_000)]
        assert "run.awaiting_input" in types and "run.resumed" in types
    finally:
        await rt.close()


async def test_an_unanswered_question_proceeds_on_its_assumption_after_the_deadline(tmp_path: Path) -> None:
    from ideamine.enums import Policy, QuestionStatus
    from orchestrator.engine.deps import EngineSettings

    request = load_run_file(str(EXAMPLES / "todo-app.yaml"))
    from dataclasses import replace

    request = replace(request, policy=Policy.ASK_ON_BLOCKING)
    settings = EngineSettings(answer_deadline_seconds=0.0)
    async with EmbeddedRuntime(db_path=tmp_path / "db", provider=OfflineProvider(), settings=settings) as rt:
        run = await rt.submit(request)
        final = await rt.drive(run.id)
        for _ in range(10):  # each drive expires what became due and goes on
            if final.status is not RunStatus.AWAITING_INPUT:
                break
            final = await rt.drive(run.id)
        assert final.status is RunStatus.SUCCEEDED
        qs = await rt.store.list_questions(run.id)
        assert not [q for q in qs if q.status is QuestionStatus.AWAITING_HUMAN]


async def test_approve_each_phase_waits_and_a_rejection_reruns_the_phase(tmp_path: Path) -> None:
    from ideamine.enums import Policy

    rt, run_id, final = await _run(
        tmp_path, "todo-app.yaml", policy=Policy.APPROVE_EACH_PHASE, phases=("intake",)
    )
    try:
        assert final.status is RunStatus.AWAITING_INPUT
        await _answer_waiting(rt, run_id, "Make the summary mention shared lists for families.")
        final = await rt.drive(run_id)
        assert final.status is RunStatus.AWAITING_INPUT  # attempt 2 waits for its approval
        gates = [g for g in await rt.store.list_gate_evaluations(run_id) if g.phase == "intake"]
        assert len(gates) == 2
        await _answer_waiting(rt, run_id, "approve")
        final = await rt.drive(run_id)
        assert final.status is RunStatus.SUCCEEDED
    finally:
        await rt.close()


async def test_the_answer_deadline_timer_resumes_a_waiting_run(tmp_path: Path) -> None:
    from dataclasses import replace

    from ideamine.enums import Policy, QuestionStatus
    from orchestrator.engine.deps import EngineSettings
    from orchestrator.engine.timers import fire_due_timers

    request = replace(load_run_file(str(EXAMPLES / "todo-app.yaml")), policy=Policy.ASK_ON_BLOCKING)
    async with EmbeddedRuntime(
        db_path=tmp_path / "db",
        provider=OfflineProvider(),
        settings=EngineSettings(answer_deadline_seconds=0.5),
    ) as rt:
        run = await rt.submit(request)
        assert (await rt.drive(run.id)).status is RunStatus.AWAITING_INPUT
        fired = 0
        for _ in range(100):  # poll until the deadline is due (bounded: 10 s)
            fired = await fire_due_timers(rt.deps(), owner="test")
            if fired:
                break
            await asyncio.sleep(0.1)
        assert fired >= 1
        assert await fire_due_timers(rt.deps(), owner="test") == 0  # each timer fires once
        assert (await rt.store.get_run(run.id)).status is RunStatus.RUNNING
        waiting = [
            q for q in await rt.store.list_questions(run.id) if q.status is QuestionStatus.AWAITING_HUMAN
        ]
        assert not waiting
        final = await rt.drive(run.id)
        for _ in range(100):  # later phases may escalate again; their deadlines pass the same way
            if final.status is not RunStatus.AWAITING_INPUT:
                break
            if await fire_due_timers(rt.deps(), owner="test"):
                final = await rt.drive(run.id)
            else:
                await asyncio.sleep(0.1)
        assert final.status is RunStatus.SUCCEEDED
        assert any("deadline" in a.text for a in await rt.store.list_assumptions(run.id))
