"""Phase, artifact, clarification, gate, budget, checkpoint, catalog, task and host-registry
RPCs over a real server: each happy path and its validation errors.

Runs here are created over the API and then put into the state a test needs through the
store; the server is configured never to adopt runs, so its engine does not interfere.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from ideamine._proto.ideamine.v1 import (
    agent_host_pb2,
    artifact_pb2,
    budget_pb2,
    catalog_pb2,
    checkpoint_pb2,
    clarification_pb2,
    common_pb2,
    gate_pb2,
    phase_pb2,
    run_pb2,
    task_pb2,
)
from ideamine.enums import GateDecision, PhaseStatus, QuestionStatus, RunStatus, TaskStatus
from ideamine.ids import new_id
from ideamine.queue import open_queue
from ideamine.store.base import RunStore
from ideamine.store.records import NewArtifact, NewTask
from tests.orchestrator.conftest import Stack
from tests.orchestrator.support import violations
from tests.polling import eventually

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.postgres, pytest.mark.redis]

#: the API only: this server never adopts runs, so tests set their states through the store
SERVER_OVERRIDES = {"max_active_runs": 0}

IDEA = "A booking app for independent yoga studios with waitlists and class passes"
SPEC = {"title": "Yoga booking", "summary": "Bookings and waitlists for small studios"}


@dataclass
class Seeded:
    run_id: str
    task_id: str
    artifact_id: str


async def _code(call: object, request: object, metadata: object) -> tuple[grpc.StatusCode, dict[str, str]]:
    try:
        await call(request, metadata=metadata)  # type: ignore[operator]
    except grpc.aio.AioRpcError as err:
        found = violations(err) if err.code() is grpc.StatusCode.INVALID_ARGUMENT else {}
        return err.code(), found
    return grpc.StatusCode.OK, {}


async def seed(stack: Stack, *, tenant: str = "acme", status: RunStatus = RunStatus.RUNNING) -> Seeded:
    """A run RUNNING its intake phase with one succeeded task and its artifact."""
    created = await stack.runs.CreateRun(
        run_pb2.CreateRunRequest(run=run_pb2.Run(idea=IDEA, requested_phases=[common_pb2.PHASE_IDEATION])),
        metadata=stack.md("operator", tenant=tenant),
    )
    run_id = created.run.id
    store = stack.store
    await store.transition_run(run_id, expected=[RunStatus.PENDING], new=RunStatus.RUNNING)
    await store.upsert_phase_execution(run_id, "intake", expected=None, status=PhaseStatus.RUNNING, attempt=1)
    (task,) = await store.create_tasks(
        [
            NewTask(
                run_id=run_id,
                phase="intake",
                task_key="expand",
                agent="intake",
                agent_version="1.0.0",
                idempotency_key=new_id(),
                input={"task": "expand"},
            )
        ]
    )
    await store.start_task(task.id, attempt=1, worker="seed", lease_seconds=60)
    result = await store.commit_task_result(
        task.id,
        attempt=1,
        output={},
        artifacts=[NewArtifact(type="idea-spec", content=SPEC, model="offline")],
    )
    if status is not RunStatus.RUNNING:
        await store.transition_run(run_id, expected=[RunStatus.RUNNING], new=status)
    return Seeded(run_id, task.id, result.artifact_ids[0])


# ---------------------------------------------------------------------- phases
async def test_phase_executions(stack: Stack) -> None:
    s = await seed(stack)
    md = stack.md("viewer")
    listed = await stack.phases.ListPhaseExecutions(
        phase_pb2.ListPhaseExecutionsRequest(run_id=s.run_id), metadata=md
    )
    (intake,) = listed.phase_executions
    assert intake.phase == common_pb2.PHASE_INTAKE and intake.status == common_pb2.PHASE_STATUS_RUNNING
    assert (intake.task_count, intake.tasks_done, list(intake.artifact_ids)) == (1, 1, [s.artifact_id])
    assert intake.max_attempts >= 1 and intake.started_at.seconds > 0
    one = await stack.phases.GetPhaseExecution(
        phase_pb2.GetPhaseExecutionRequest(run_id=s.run_id, phase=common_pb2.PHASE_INTAKE), metadata=md
    )
    one.phase_execution.usage.ClearField("wall_clock_seconds")  # grows while the phase runs
    intake.usage.ClearField("wall_clock_seconds")
    assert one.phase_execution == intake
    code, _ = await _code(
        stack.phases.GetPhaseExecution,
        phase_pb2.GetPhaseExecutionRequest(run_id=s.run_id, phase=common_pb2.PHASE_IDEATION),
        md,
    )
    assert code is grpc.StatusCode.NOT_FOUND
    code, found = await _code(
        stack.phases.GetPhaseExecution, phase_pb2.GetPhaseExecutionRequest(run_id=s.run_id), md
    )
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "phase" in found


# ------------------------------------------------------------------- artifacts
async def test_artifacts_list_get_render_and_dossier(stack: Stack) -> None:
    s = await seed(stack)
    other = await seed(stack)
    md = stack.md("viewer")
    listed = await stack.artifacts.ListArtifacts(
        artifact_pb2.ListArtifactsRequest(run_id=s.run_id, omit_content=True), metadata=md
    )
    (a,) = listed.artifacts
    assert (
        a.id == s.artifact_id
        and a.type == "idea-spec"
        and a.agent == "intake@1.0.0"
        and not a.HasField("content")
    )
    only = await stack.artifacts.ListArtifacts(
        artifact_pb2.ListArtifactsRequest(run_id=s.run_id, phase=common_pb2.PHASE_PRD), metadata=md
    )
    assert not only.artifacts
    got = await stack.artifacts.GetArtifact(
        artifact_pb2.GetArtifactRequest(run_id=s.run_id, artifact_id=s.artifact_id), metadata=md
    )
    assert got.artifact.content["title"] == "Yoga booking" and got.artifact.sha256
    rendered = await stack.artifacts.RenderArtifact(
        artifact_pb2.RenderArtifactRequest(run_id=s.run_id, artifact_id=s.artifact_id), metadata=md
    )
    assert "Yoga booking" in rendered.markdown
    for fmt, kind in (
        (artifact_pb2.DOSSIER_FORMAT_UNSPECIFIED, "markdown"),
        (artifact_pb2.DOSSIER_FORMAT_JSON, "json"),
    ):
        dossier = await stack.artifacts.ExportDossier(
            artifact_pb2.ExportDossierRequest(run_id=s.run_id, format=fmt), metadata=md
        )
        assert kind in dossier.content_type and list(dossier.artifact_ids) == [s.artifact_id]
        assert "Yoga booking" in dossier.content and len(dossier.sha256) == 64
    code, _ = await _code(  # an artifact of another run is not found through this run
        stack.artifacts.GetArtifact,
        artifact_pb2.GetArtifactRequest(run_id=s.run_id, artifact_id=other.artifact_id),
        md,
    )
    assert code is grpc.StatusCode.NOT_FOUND
    code, found = await _code(
        stack.artifacts.GetArtifact, artifact_pb2.GetArtifactRequest(run_id=s.run_id), md
    )
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "artifact_id" in found
    code, found = await _code(
        stack.artifacts.ExportDossier,
        artifact_pb2.ExportDossierRequest(run_id=s.run_id, format=9),  # type: ignore[arg-type]
        md,
    )
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "format" in found
    code, found = await _code(
        stack.artifacts.ListArtifacts,
        artifact_pb2.ListArtifactsRequest(run_id=s.run_id, phase=99),  # type: ignore[arg-type]
        md,
    )
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "phase" in found


# -------------------------------------------------------------- clarifications
async def test_answering_questions_resumes_a_waiting_run(stack: Stack) -> None:
    s = await seed(stack)
    store = stack.store
    q1 = await store.add_question(s.run_id, "intake", text="Who pays: studios or students?", blocking=True)
    q2 = await store.add_question(s.run_id, "intake", text="Which countries first?", blocking=False)
    await store.answer_question(
        q1.id,
        expected=[QuestionStatus.OPEN],
        status=QuestionStatus.AWAITING_HUMAN,
        answer=None,
        confidence=None,
        scores={},
        answered_by=None,
    )
    await store.answer_question(
        q2.id,
        expected=[QuestionStatus.OPEN],
        status=QuestionStatus.ASSUMED,
        answer="EU",
        confidence=0.4,
        scores={"grounding": 0.5},
        answered_by="agent",
    )
    assumption = await store.add_assumption(s.run_id, "intake", text="EU first", question_id=q2.id)
    await store.transition_run(s.run_id, expected=[RunStatus.RUNNING], new=RunStatus.AWAITING_INPUT)
    md = stack.md("operator")
    waiting = await stack.clarifications.ListQuestions(
        clarification_pb2.ListQuestionsRequest(
            run_id=s.run_id, statuses=[common_pb2.QUESTION_STATUS_AWAITING_HUMAN]
        ),
        metadata=md,
    )
    assert [q.id for q in waiting.questions] == [q1.id]
    everything = await stack.clarifications.ListQuestions(
        clarification_pb2.ListQuestionsRequest(run_id=s.run_id), metadata=md
    )
    assumed = next(q for q in everything.questions if q.id == q2.id)
    assert assumed.assumption_id == assumption.id and assumed.answer.scores.grounding == 0.5
    answered = await stack.clarifications.AnswerQuestion(
        clarification_pb2.AnswerQuestionRequest(run_id=s.run_id, question_id=q1.code, answer="Studios pay"),
        metadata=md,
    )
    assert answered.question.status == common_pb2.QUESTION_STATUS_ANSWERED_BY_HUMAN
    assert (
        answered.question.answer.answered_by == "human:alice" and answered.question.answer.confidence == 1.0
    )
    assert (await store.get_run(s.run_id)).status is RunStatus.RUNNING
    code, _ = await _code(  # closed now
        stack.clarifications.AnswerQuestion,
        clarification_pb2.AnswerQuestionRequest(run_id=s.run_id, question_id=q1.id, answer="again"),
        md,
    )
    assert code is grpc.StatusCode.FAILED_PRECONDITION
    code, found = await _code(
        stack.clarifications.AnswerQuestion,
        clarification_pb2.AnswerQuestionRequest(run_id=s.run_id, question_id=q1.id, answer="  "),
        md,
    )
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "answer" in found
    code, _ = await _code(
        stack.clarifications.AnswerQuestion,
        clarification_pb2.AnswerQuestionRequest(run_id=s.run_id, question_id="Q-999", answer="x"),
        md,
    )
    assert code is grpc.StatusCode.NOT_FOUND
    listed = await stack.clarifications.ListAssumptions(
        clarification_pb2.ListAssumptionsRequest(run_id=s.run_id, phase=common_pb2.PHASE_INTAKE), metadata=md
    )
    assert [a.question_id for a in listed.assumptions] == [q2.id]


# ----------------------------------------------------------------------- gates
async def _failed_gate(stack: Stack, *, unwaivable: bool) -> Seeded:
    s = await seed(stack)
    metrics = [
        {
            "metric": "coverage",
            "value": 0.4,
            "passed": False,
            "op": ">=",
            "threshold": 0.8,
            "weight": 1.0,
            "required": True,
            "never_waivable": False,
        },
        {
            "metric": "critical_findings",
            "value": 2,
            "passed": not unwaivable,
            "op": "==",
            "threshold": 0,
            "weight": 1.0,
            "required": True,
            "never_waivable": True,
        },
    ]
    await stack.store.record_gate_evaluation(
        s.run_id,
        "intake",
        attempt=1,
        score=40.0,
        decision=GateDecision.FAIL,
        metrics=metrics,
        findings=["missing artifact: intake-report", "coverage too low"],
    )
    await stack.store.upsert_phase_execution(
        s.run_id, "intake", expected=[PhaseStatus.RUNNING], status=PhaseStatus.FAILED, attempt=1
    )
    await stack.store.transition_run(s.run_id, expected=[RunStatus.RUNNING], new=RunStatus.NEEDS_WAIVER)
    return s


async def test_admin_waives_a_failed_gate_with_a_justification(stack: Stack) -> None:
    s = await _failed_gate(stack, unwaivable=False)
    admin = stack.md("admin")
    request = gate_pb2.WaiveGateRequest(run_id=s.run_id, phase=common_pb2.PHASE_INTAKE)
    code, found = await _code(stack.gates.WaiveGate, request, admin)
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "reason" in found
    request.reason = "Accepted for the pilot; coverage fixed in the next release"
    waived = await stack.gates.WaiveGate(request, metadata=admin)
    evaluation = waived.gate_evaluation
    assert (
        evaluation.decision == common_pb2.GATE_DECISION_FAIL and evaluation.waiver.waived_by == "user:alice"
    )
    assert list(evaluation.missing_artifact_types) == ["intake-report"]
    assert (await stack.store.get_phase_execution(s.run_id, "intake")).status is PhaseStatus.WAIVED
    assert (await stack.store.get_run(s.run_id)).status is RunStatus.RUNNING
    code, _ = await _code(stack.gates.WaiveGate, request, admin)  # nothing left to waive
    assert code is grpc.StatusCode.FAILED_PRECONDITION
    listed = await stack.gates.ListGateEvaluations(
        gate_pb2.ListGateEvaluationsRequest(run_id=s.run_id), metadata=stack.md("viewer")
    )
    (g,) = listed.gate_evaluations
    assert g.waiver.reason.startswith("Accepted") and {m.name for m in g.metrics} == {
        "coverage",
        "critical_findings",
    }
    assert g.min_score > 0 and not g.metrics[0].passed


async def test_a_never_waivable_failure_cannot_be_waived(stack: Stack) -> None:
    s = await _failed_gate(stack, unwaivable=True)
    code, _ = await _code(
        stack.gates.WaiveGate,
        gate_pb2.WaiveGateRequest(run_id=s.run_id, phase=common_pb2.PHASE_INTAKE, reason="ship it"),
        stack.md("admin"),
    )
    assert code is grpc.StatusCode.FAILED_PRECONDITION
    assert (await stack.store.get_phase_execution(s.run_id, "intake")).status is PhaseStatus.FAILED
    assert not await stack.store.list_waivers(s.run_id)


# --------------------------------------------------------------------- budgets
async def test_budget_usage_and_raise_with_resume(stack: Stack) -> None:
    s = await seed(stack, status=RunStatus.BUDGET_EXHAUSTED)
    md = stack.md("operator")
    got = await stack.budgets.GetBudget(budget_pb2.GetBudgetRequest(run_id=s.run_id), metadata=md)
    assert got.run.kind == budget_pb2.BUDGET_SCOPE_KIND_RUN and got.run_id == s.run_id
    code, found = await _code(
        stack.budgets.RaiseBudget,
        budget_pb2.RaiseBudgetRequest(run_id=s.run_id, budget=common_pb2.Budget(max_tokens=-1, max_usd=0.5)),
        md,
    )
    assert code is grpc.StatusCode.INVALID_ARGUMENT and {"budget.max_tokens"} <= set(found)
    code, found = await _code(stack.budgets.RaiseBudget, budget_pb2.RaiseBudgetRequest(run_id=s.run_id), md)
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "budget" in found
    raised = await stack.budgets.RaiseBudget(
        budget_pb2.RaiseBudgetRequest(
            run_id=s.run_id,
            budget=common_pb2.Budget(max_tokens=9_000_000, max_usd=50),
            resume=True,
            reason="more",
        ),
        metadata=md,
    )
    assert raised.run.limit.max_tokens == 9_000_000 and raised.run_status == common_pb2.RUN_STATUS_RUNNING
    lower = budget_pb2.RaiseBudgetRequest(run_id=s.run_id, budget=common_pb2.Budget(max_tokens=10))
    code, found = await _code(stack.budgets.RaiseBudget, lower, md)
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "at least" in found["budget.max_tokens"]


# ----------------------------------------------------------------- checkpoints
async def test_checkpoints_list_and_resume_from(stack: Stack) -> None:
    s = await seed(stack, status=RunStatus.PAUSED)
    cp = await stack.store.save_checkpoint(
        s.run_id, "intake", attempt=1, state={"stage": "plan", "plan_hash": "ab"}
    )
    md = stack.md("operator")
    listed = await stack.checkpoints.ListCheckpoints(
        checkpoint_pb2.ListCheckpointsRequest(run_id=s.run_id), metadata=md
    )
    (c,) = listed.checkpoints
    assert (c.id, c.step, c.plan_hash, c.phase) == (
        cp.id,
        "plan",
        "ab",
        common_pb2.PHASE_INTAKE,
    ) and c.event_seq > 0
    code, _ = await _code(
        stack.checkpoints.ResumeFromCheckpoint,
        checkpoint_pb2.ResumeFromCheckpointRequest(run_id=s.run_id, checkpoint_id=new_id()),
        md,
    )
    assert code is grpc.StatusCode.NOT_FOUND
    resumed = await stack.checkpoints.ResumeFromCheckpoint(
        checkpoint_pb2.ResumeFromCheckpointRequest(run_id=s.run_id, checkpoint_id=cp.id), metadata=md
    )
    assert resumed.run.status == common_pb2.RUN_STATUS_RUNNING
    code, _ = await _code(  # running runs are not resumed
        stack.checkpoints.ResumeFromCheckpoint,
        checkpoint_pb2.ResumeFromCheckpointRequest(run_id=s.run_id, checkpoint_id=cp.id),
        md,
    )
    assert code is grpc.StatusCode.FAILED_PRECONDITION


# --------------------------------------------------------- catalog and hosts
async def test_catalog_lists_phases_and_agents_with_live_hosts(stack: Stack) -> None:
    md = stack.md("viewer")
    phases = await stack.catalog.ListPhases(catalog_pb2.ListPhasesRequest(), metadata=md)
    assert len(phases.phases) == 13 and phases.phases[0].name == "intake" and not phases.next_page_token
    page = await stack.catalog.ListPhases(catalog_pb2.ListPhasesRequest(page_size=5), metadata=md)
    assert len(page.phases) == 5 and page.next_page_token
    story = await stack.catalog.GetPhase(
        catalog_pb2.GetPhaseRequest(phase=common_pb2.PHASE_STORY_LOOP), metadata=md
    )
    assert story.phase.name == "story-loop" and story.phase.gate.metrics
    code, found = await _code(stack.catalog.GetPhase, catalog_pb2.GetPhaseRequest(), md)
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "phase" in found

    host_id = new_id()
    extra = catalog_pb2.AgentDefinition(
        name="acme.summariser", version="0.1.0", phase=common_pb2.PHASE_PRD, task_key="summary"
    )
    intake = catalog_pb2.AgentDefinition(name="intake", version="1.0.0", phase=common_pb2.PHASE_INTAKE)
    op = stack.md("operator")
    reg = await stack.hosts.RegisterHost(
        agent_host_pb2.RegisterHostRequest(
            host_id=host_id, address="127.0.0.1:50061", capacity=4, agents=[extra, intake]
        ),
        metadata=op,
    )
    assert reg.heartbeat_interval.seconds > 0 and reg.lease_expires_at.seconds > 0
    agents = await stack.catalog.ListAgents(catalog_pb2.ListAgentsRequest(), metadata=md)
    by_name = {a.name: a for a in agents.agents}
    assert list(by_name["intake"].host_ids) == [host_id] and list(by_name["acme.summariser"].host_ids) == [
        host_id
    ]
    assert len(by_name) >= 14
    prd = await stack.catalog.ListAgents(
        catalog_pb2.ListAgentsRequest(phase=common_pb2.PHASE_PRD), metadata=md
    )
    assert {a.name for a in prd.agents} == {"prd", "acme.summariser"}
    beat = await stack.hosts.HeartbeatHost(
        agent_host_pb2.HeartbeatHostRequest(
            host_id=host_id, state=agent_host_pb2.HOST_STATE_DRAINING, busy=1
        ),
        metadata=op,
    )
    assert not beat.drain_requested
    await stack.hosts.DeregisterHost(
        agent_host_pb2.DeregisterHostRequest(host_id=host_id, reason="bye"), metadata=op
    )
    gone = await stack.catalog.GetAgent(catalog_pb2.GetAgentRequest(agent_name="intake"), metadata=md)
    assert not gone.agent.host_ids
    code, _ = await _code(
        stack.catalog.GetAgent, catalog_pb2.GetAgentRequest(agent_name="acme.summariser"), md
    )
    assert code is grpc.StatusCode.NOT_FOUND
    code, found = await _code(
        stack.hosts.RegisterHost,
        agent_host_pb2.RegisterHostRequest(
            host_id="host-1", capacity=-1, agents=[catalog_pb2.AgentDefinition()]
        ),
        op,
    )
    assert code is grpc.StatusCode.INVALID_ARGUMENT and {"host_id", "capacity", "agents[0].name"} <= set(
        found
    )
    code, _ = await _code(
        stack.hosts.HeartbeatHost, agent_host_pb2.HeartbeatHostRequest(host_id=new_id()), op
    )
    assert code is grpc.StatusCode.NOT_FOUND


# ----------------------------------------------------------------------- tasks
async def test_submit_tasks_creates_and_publishes_them(stack: Stack) -> None:
    s = await seed(stack)
    md = stack.md("operator")
    submission = task_pb2.TaskSubmission(run_id=s.run_id, agent="intake", task_key="classify")
    submission.input.update({"note": "benchmark"})
    submission.budget.max_tokens = 10_000
    response = await stack.tasks.SubmitTasks(task_pb2.SubmitTasksRequest(tasks=[submission]), metadata=md)
    (task,) = response.tasks
    assert task.status == common_pb2.TASK_STATUS_QUEUED and task.phase == common_pb2.PHASE_INTAKE
    assert task.task_key.startswith("submitted:classify") and task.input["task"] == "classify"
    got = await stack.tasks.GetTask(task_pb2.GetTaskRequest(task_id=task.id), metadata=stack.md("viewer"))
    assert got.task.id == task.id and got.task.agent_version == "1.0.0"
    scopes = await stack.store.get_budget_scopes(s.run_id)
    assert any(sc.kind == "task" and sc.name == task.id and sc.limits.tokens == 10_000 for sc in scopes)
    queue = open_queue(stack.redis_url, prefix=stack.prefix)
    try:
        await eventually(lambda: _queued(queue, task.id), what="the task message in the stream")
    finally:
        await queue.close()
    seeded = await stack.tasks.GetTask(task_pb2.GetTaskRequest(task_id=s.task_id), metadata=md)
    assert list(seeded.task.output_artifact_ids) == [s.artifact_id]

    bad = [
        task_pb2.TaskSubmission(agent="intake"),
        task_pb2.TaskSubmission(run_id=s.run_id, agent="no-such-agent"),
        task_pb2.TaskSubmission(run_id=s.run_id, agent="intake", task_key="strategy"),
        task_pb2.TaskSubmission(run_id=s.run_id, agent="intake", phase=common_pb2.PHASE_PRD),
        task_pb2.TaskSubmission(run_id=s.run_id, agent="intake", input_artifact_ids=[new_id()]),
    ]
    code, found = await _code(stack.tasks.SubmitTasks, task_pb2.SubmitTasksRequest(tasks=bad), md)
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert {
        "tasks[0].run_id",
        "tasks[1].agent",
        "tasks[2].task_key",
        "tasks[3].phase",
        "tasks[4].input_artifact_ids[0]",
    } <= set(found), found
    code, found = await _code(stack.tasks.SubmitTasks, task_pb2.SubmitTasksRequest(), md)
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "tasks" in found
    code, _ = await _code(stack.tasks.GetTask, task_pb2.GetTaskRequest(task_id=new_id()), md)
    assert code is grpc.StatusCode.NOT_FOUND


@contextlib.contextmanager
def counting(store: RunStore, *names: str) -> Iterator[Counter[str]]:
    """Count the server's calls of the store methods ``names`` (the store itself is real)."""
    calls: Counter[str] = Counter()

    def wrap(name: str) -> Any:
        inner = getattr(store, name)

        async def counted(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return await inner(*args, **kwargs)

        return counted

    for name in names:
        setattr(store, name, wrap(name))
    try:
        yield calls
    finally:
        for name in names:
            delattr(store, name)


def _submission(run_id: str, agent: str = "intake", key: str = "classify", **input: Any) -> Any:
    sub = task_pb2.TaskSubmission(run_id=run_id, agent=agent, task_key=key)
    sub.input.update(input)
    return sub


async def _submitted(stack: Stack, run_id: str) -> list[Any]:
    return [t for t in await stack.store.list_tasks(run_id) if t.task_key.startswith("submitted:")]


async def test_identical_submissions_of_one_request_are_one_task(stack: Stack) -> None:
    s = await seed(stack)
    md = stack.md("operator")
    same, other = _submission(s.run_id, n=1), _submission(s.run_id, n=2)
    request = task_pb2.SubmitTasksRequest(tasks=[same, other, same], request_id="retry-1")
    a, b, c = (await stack.tasks.SubmitTasks(request, metadata=md)).tasks
    assert a.id == c.id != b.id and a == c and a.status == common_pb2.TASK_STATUS_QUEUED
    assert sorted(t.id for t in await _submitted(stack, s.run_id)) == sorted([a.id, b.id])
    # the one task commits (as a worker would); the request again finds the key committed
    await stack.store.start_task(a.id, attempt=1, worker="w1", lease_seconds=60)
    await stack.store.commit_task_result(a.id, attempt=1, output={}, artifacts=[])
    assert (await stack.store.get_task(a.id)).status is TaskStatus.SUCCEEDED
    again = task_pb2.SubmitTasksRequest(tasks=[same, same], request_id="retry-1")
    x, y = (await stack.tasks.SubmitTasks(again, metadata=md)).tasks
    assert x.id == y.id != a.id and x.status == common_pb2.TASK_STATUS_SUCCEEDED
    assert x.idempotency_key == a.idempotency_key


async def test_one_request_spans_runs_with_one_read_per_run(stack: Stack) -> None:
    one, two = await seed(stack), await seed(stack)
    md = stack.md("operator")
    pairs = [(one, one), (two, two), (one, one), (one, one)]
    subs = [_submission(r.run_id, n=i) for i, (r, _) in enumerate(pairs)]
    for sub, (_, seeded) in zip(subs, pairs, strict=True):
        sub.input_artifact_ids.append(seeded.artifact_id)
    subs[3].budget.max_tokens = 5_000
    names = ("get_run", "get_budget_scopes", "get_artifact", "list_hosts", "ensure_budget_scope")
    with counting(stack.server.store, *names) as calls:
        response = await stack.tasks.SubmitTasks(task_pb2.SubmitTasksRequest(tasks=subs), metadata=md)
    assert calls == {"get_run": 2, "get_budget_scopes": 2, "get_artifact": 2, "ensure_budget_scope": 1}
    assert [t.run_id for t in response.tasks] == [one.run_id, two.run_id, one.run_id, one.run_id]
    for run_id in (one.run_id, two.run_id):
        mine = [t.id for t in response.tasks if t.run_id == run_id]
        events = await stack.store.list_events(run_id)
        assert [e.task_id for e in events if e.type == "task.queued"] == mine
        assert (await stack.store.verify_ledger(run_id)).ok
    # another tenant's run anywhere in the batch: NOT_FOUND, and nothing is written
    foreign = await seed(stack, tenant="globex")
    batch = [_submission(one.run_id, n=9), _submission(foreign.run_id)]
    code, _ = await _code(stack.tasks.SubmitTasks, task_pb2.SubmitTasksRequest(tasks=batch), md)
    assert code is grpc.StatusCode.NOT_FOUND
    assert len(await _submitted(stack, one.run_id)) == 3 and await _submitted(stack, foreign.run_id) == []


async def test_agents_only_hosts_offer_are_found_when_named(stack: Stack) -> None:
    s = await seed(stack)
    op = stack.md("operator")

    async def register(name: str) -> None:
        agent = catalog_pb2.AgentDefinition(
            name=name, version="0.1.0", phase=common_pb2.PHASE_PRD, task_key="sum"
        )
        await stack.hosts.RegisterHost(
            agent_host_pb2.RegisterHostRequest(host_id=new_id(), address="127.0.0.1:50061", agents=[agent]),
            metadata=op,
        )

    with counting(stack.server.store, "list_hosts") as calls:
        await stack.tasks.SubmitTasks(task_pb2.SubmitTasksRequest(tasks=[_submission(s.run_id)]), metadata=op)
        assert calls["list_hosts"] == 0  # the local registry has "intake"
        await register("acme.first")
        request = task_pb2.SubmitTasksRequest(tasks=[_submission(s.run_id, "acme.first", "sum")])
        (task,) = (await stack.tasks.SubmitTasks(request, metadata=op)).tasks
        assert task.agent == "acme.first" and task.phase == common_pb2.PHASE_PRD
        await register("acme.second")  # new since the catalogues were read: read again at once
        request = task_pb2.SubmitTasksRequest(tasks=[_submission(s.run_id, "acme.second", "sum")])
        (task,) = (await stack.tasks.SubmitTasks(request, metadata=op)).tasks
        assert task.agent == "acme.second"
    code, found = await _code(
        stack.tasks.SubmitTasks,
        task_pb2.SubmitTasksRequest(tasks=[_submission(s.run_id, "acme.nobody", "sum")]),
        op,
    )
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "tasks[0].agent" in found


async def _queued(queue: object, task_id: str) -> bool:
    return task_id in await queue.queued_task_ids()  # type: ignore[attr-defined]
