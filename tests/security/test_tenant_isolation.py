"""Tenant isolation on every read path, with the real ids of another tenant's finished run.

``tests/orchestrator/test_auth.py`` already checks that another tenant's *run id* is
NOT_FOUND on every RPC taking one (with random object ids). This suite goes further: a
run of tenant ``acme`` finishes its intake and ideation phases, so it owns artifacts,
tasks, checkpoints, phase executions, gate evaluations and questions. Then, as an
*admin* of tenant ``globex``:

- every RPC that names a run or an object, filled with acme's **real** ids (each
  artifact, task, checkpoint, question, phase), is NOT_FOUND — while acme itself reads the
  same requests successfully (so the refusal is tenancy, not a malformed request);
- globex's *own* run id combined with acme's object ids is NOT_FOUND too (no object is
  reachable through a foreign run);
- ``ListRuns`` never lists acme's run, and the NOT_FOUND text for a real id is the same
  as for an id that never existed (existence does not leak).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
import pytest_asyncio
from google.protobuf import message_factory  # type: ignore[import-untyped]
from google.protobuf.descriptor import MethodDescriptor  # type: ignore[import-untyped]

from ideamine._proto.ideamine.v1 import common_pb2, run_pb2, task_pb2
from ideamine.convert import phase_to_proto
from ideamine.ids import new_id
from tests.orchestrator.conftest import Stack, stack  # noqa: F401 - the shared server fixture
from tests.security.rpc import METHODS, call
from tests.security.support import RunObjects, finished_run, object_ids, running_worker

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.postgres, pytest.mark.redis]

OWNER, INTRUDER = "acme", "globex"
#: request fields that name something a tenant owns
_ID_FIELDS = ("run_id", "artifact_id", "task_id", "question_id", "checkpoint_id")
#: methods that change state (checked for NOT_FOUND, not replayed by the owner)
_MUTATING = {
    "CreateRun",
    "CancelRun",
    "PauseRun",
    "ResumeRun",
    "AnswerQuestion",
    "WaiveGate",
    "RaiseBudget",
    "ResumeFromCheckpoint",
    "SubmitTasks",
}
_TARGETED = [
    m for m in METHODS if set(_ID_FIELDS) & set(m.input_type.fields_by_name) or m.name == "SubmitTasks"
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def owned(stack: Stack) -> RunObjects:  # noqa: F811 - pytest injects the fixture
    """acme's finished run (intake + ideation) and everything it owns."""
    async with running_worker(stack, "isolation-worker"):
        run = await finished_run(stack, tenant=OWNER)
    assert run.status == common_pb2.RUN_STATUS_SUCCEEDED, run.status_reason
    objects = await object_ids(stack, run.id)
    assert objects.artifact_ids and objects.task_ids and objects.checkpoint_ids
    return objects


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def foreign_run(stack: Stack) -> str:  # noqa: F811
    """A run globex owns (never driven to an end: only its id matters)."""
    created = await stack.runs.CreateRun(
        run_pb2.CreateRunRequest(run=run_pb2.Run(idea="Globex's own idea for a parcel-locker network")),
        metadata=stack.md("operator", tenant=INTRUDER),
    )
    return str(created.run.id)


def _requests(method: MethodDescriptor, objects: RunObjects, run_id: str) -> Iterator[Any]:
    """Requests naming ``run_id`` and, one by one, each of the run's objects the method takes."""
    cls = message_factory.GetMessageClass(method.input_type)
    fields = method.input_type.fields_by_name
    base: dict[str, Any] = {"run_id": run_id} if "run_id" in fields else {}
    base.update({k: v for k, v in (("answer", "yes"), ("reason", "because")) if k in fields})
    if method.name == "SubmitTasks":
        yield cls(tasks=[task_pb2.TaskSubmission(run_id=objects.run_id, agent="intake", task_key="classify")])
        return
    per_object = {
        "artifact_id": objects.artifact_ids,
        "task_id": objects.task_ids,
        "question_id": objects.question_ids,
        "checkpoint_id": objects.checkpoint_ids,
    }
    if "phase" in fields:
        for phase in objects.phases:
            yield cls(**base, phase=phase_to_proto(phase))
        return
    named = [f for f in per_object if f in fields]
    if not named:
        yield cls(**base)
        return
    for name in named:
        for object_id in per_object[name]:
            yield cls(**base, **{name: object_id})


async def test_every_targeted_rpc_is_covered() -> None:
    names = {m.name for m in _TARGETED}
    assert len(_TARGETED) == 23, sorted(names)  # the 22 RPCs naming a run, plus GetTask
    assert {"GetArtifact", "RenderArtifact", "ExportDossier", "WatchRun", "GetTask", "ListRunEvents"} <= names


@pytest.mark.parametrize("method", _TARGETED, ids=lambda m: f"{m.containing_service.name}.{m.name}")
async def test_another_tenants_objects_are_not_found(
    stack: Stack,  # noqa: F811
    owned: RunObjects,
    foreign_run: str,
    method: MethodDescriptor,
) -> None:
    intruder = stack.md("admin", tenant=INTRUDER, sub="mallory")
    failures = []
    requests = list(_requests(method, owned, owned.run_id))
    if (
        "run_id" in method.input_type.fields_by_name
        and len(set(method.input_type.fields_by_name) & set(_ID_FIELDS)) > 1
    ):
        requests += list(_requests(method, owned, foreign_run))  # globex's run, acme's objects
    assert requests
    for request in requests:
        err, received = await call(stack.channel, method, request, intruder)
        if err is None or err.code() is not grpc.StatusCode.NOT_FOUND:
            failures.append(f"{request} -> {err.code().name if err else f'OK {received!r:.200}'}")
        if method.name not in _MUTATING:  # the owner gets an answer to the very same request
            mine, _ = await call(stack.channel, method, request, stack.md("viewer", tenant=OWNER))
            if request.ListFields() and getattr(request, "run_id", owned.run_id) == owned.run_id:
                assert mine is None, f"owner's {method.name} failed: {mine.code().name} {mine.details()}"
    assert not failures, failures


async def test_list_runs_never_shows_another_tenants_run(
    stack: Stack,  # noqa: F811
    owned: RunObjects,
    foreign_run: str,
) -> None:
    seen: list[str] = []
    token = ""
    while True:
        page = await stack.runs.ListRuns(
            run_pb2.ListRunsRequest(page_size=2, page_token=token),
            metadata=stack.md("admin", tenant=INTRUDER),
        )
        seen += [r.id for r in page.runs]
        assert all(r.tenant == INTRUDER for r in page.runs)
        token = page.next_page_token
        if not token:
            break
    assert foreign_run in seen and owned.run_id not in seen


async def test_not_found_reads_the_same_for_a_real_and_an_unknown_id(
    stack: Stack,  # noqa: F811
    owned: RunObjects,
) -> None:
    intruder = stack.md("admin", tenant=INTRUDER)
    texts = []
    for run_id in (owned.run_id, new_id()):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stack.runs.GetRun(run_pb2.GetRunRequest(run_id=run_id), metadata=intruder)
        assert caught.value.code() is grpc.StatusCode.NOT_FOUND
        texts.append((caught.value.details() or "").replace(run_id, "<id>"))
    assert texts[0] == texts[1]
