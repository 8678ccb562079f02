"""What the engine reads between two dependent steps, and in which order it fills slots.

Dispatch and Clarify read upstream artifacts once per phase run (:class:`PhaseArtifacts`)
and the story fan-out goes depth-first; these tests pin that the reads still see what a
full read of the run sees and that a chain's next step goes before a new chain's head.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ideamine.embedded import EmbeddedRuntime
from ideamine.enums import RunStatus
from ideamine.llm.offline import OfflineProvider
from ideamine.plugins import PlannedTask
from ideamine.runfile import load_run_file
from orchestrator.engine.artifact_view import HandoffListing, PhaseArtifacts
from orchestrator.engine.planner import TaskSlot, expand_slots, ready_slots
from orchestrator.engine.qav import Clarifier

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "orchestrations"


def _task(key: str, after: tuple[str, ...] = (), *, per_story: bool = True) -> PlannedTask:
    return PlannedTask(key, "agent", "1", (f"{key}-out",), after, per_story, False)


def test_ready_slots_continue_a_story_before_starting_the_next() -> None:
    plan, review = _task("plan"), _task("review", ("plan",))
    slots = expand_slots([plan, review], [{"id": f"ST-00{i}"} for i in range(1, 6)])
    started = {"plan:ST-001", "plan:ST-002", "plan:ST-003", "plan:ST-004"}
    ready = ready_slots(slots, done={"plan:ST-001", "plan:ST-002"}, started=started)
    assert [s.key for s in ready] == ["review:ST-001", "review:ST-002", "plan:ST-005"]


def test_ready_slots_rank_by_chain_depth_and_keep_plan_order_on_ties() -> None:
    a, b, c = _task("a", per_story=False), _task("b", ("a",), per_story=False), _task("z", per_story=False)
    d = _task("d", ("b",), per_story=False)
    slots = [TaskSlot(t) for t in (a, b, c, d)]
    assert [s.key for s in ready_slots(slots, set(), set())] == ["a", "z"]
    assert [s.key for s in ready_slots(slots, {"a", "b"}, {"a", "b"})] == ["d", "z"]
    assert ready_slots(slots, {"a", "b", "z", "d"}, {"a", "b", "z", "d"}) == []


async def test_cached_reads_see_what_a_full_read_of_the_run_sees(tmp_path: Path) -> None:
    request = load_run_file(str(EXAMPLES / "todo-app.yaml"))
    async with EmbeddedRuntime(db_path=tmp_path / "db.sqlite3", provider=OfflineProvider()) as rt:
        run = await rt.submit(request)
        final = await rt.drive(run.id)
        assert final.status is RunStatus.SUCCEEDED, final.status_reason
        every = [r for r in await rt.store.list_artifacts(run.id) if not r.type.startswith("qav-")]
        last = rt.catalogue.phase(final.phases[-1])
        view = PhaseArtifacts(rt.deps(), final, last)
        assert view.concurrent == ()
        assert view.upstream == frozenset(final.phases[:-1])
        seen = [r for r in await view.records() if not r.type.startswith("qav-")]
        assert sorted(r.id for r in seen) == sorted(r.id for r in every)

        # the grounding corpus, read twice (the second time from the cache), is the full read's
        clarifier = Clarifier(rt.deps(), final, last, view)
        for _ in range(2):
            corpus, accepted = await clarifier._corpus()
            full = "\n".join(json.dumps(r.content, ensure_ascii=False) for r in every)
            assert corpus == (full + "\n" + "\n".join(a for _, a in accepted)).lower()


async def test_a_forked_phase_rereads_the_phase_running_alongside_it(tmp_path: Path) -> None:
    request = load_run_file(str(EXAMPLES / "healthcare-platform.yaml"))
    async with EmbeddedRuntime(db_path=tmp_path / "db.sqlite3", provider=OfflineProvider()) as rt:
        run = await rt.submit(request)
        assert {"security", "story-loop"} <= set(run.phases)
        loop = PhaseArtifacts(rt.deps(), run, rt.catalogue.phase("story-loop"))
        assert loop.concurrent == ("security",)
        assert "build" in loop.upstream and "security" not in loop.upstream
        assert PhaseArtifacts(rt.deps(), run, rt.catalogue.phase("intake")).concurrent == ()


async def test_a_phase_starts_from_its_predecessors_handoff_listing_only_when_it_covers_its_needs(
    tmp_path: Path,
) -> None:
    request = load_run_file(str(EXAMPLES / "todo-app.yaml"))
    async with EmbeddedRuntime(db_path=tmp_path / "db.sqlite3", provider=OfflineProvider()) as rt:
        run = await rt.submit(request)
        final = await rt.drive(run.id)
        assert final.status is RunStatus.SUCCEEDED, final.status_reason
        every = await rt.store.list_artifacts(run.id)
        intake, ideation, prd = (rt.catalogue.phase(p) for p in ("intake", "ideation", "prd"))
        listing = HandoffListing()
        marked = [r for r in every if r.type != "idea-spec"]  # tells the listing from a fresh read
        PhaseArtifacts(rt.deps(), final, intake, listing).handed_off(marked)
        assert listing.final == {"intake"}
        # prd needs ideation too, which the listing does not cover: a fresh read
        fresh = await PhaseArtifacts(rt.deps(), final, prd, listing).upstream_records()
        assert "idea-spec" in {r.type for r in fresh}
        # ideation needs only intake: it starts from the listing
        started = await PhaseArtifacts(rt.deps(), final, ideation, listing).upstream_records()
        assert [r.id for r in started] == [r.id for r in marked if r.phase == "intake"]


async def test_a_phase_run_ensures_its_budget_scope_once(tmp_path: Path, monkeypatch) -> None:
    request = load_run_file(str(EXAMPLES / "todo-app.yaml"))
    async with EmbeddedRuntime(db_path=tmp_path / "db.sqlite3", provider=OfflineProvider()) as rt:
        ensured: list[str] = []
        ensure = rt.store.ensure_budget_scope

        async def counting(run_id: str, *, kind: str, name: str, **kw: Any) -> Any:
            if kind == "phase":
                ensured.append(name)
            return await ensure(run_id, kind=kind, name=name, **kw)

        monkeypatch.setattr(rt.store, "ensure_budget_scope", counting)
        run = await rt.submit(request)
        final = await rt.drive(run.id)
        assert final.status is RunStatus.SUCCEEDED, final.status_reason
        stages = {t.task_key.split(":")[0] for t in await rt.store.list_tasks(run.id)}
        assert {"clarify-questions", "clarify-answers"} <= stages  # several dispatchers per phase run
        assert sorted(ensured) == sorted(final.phases)
