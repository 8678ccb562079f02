"""``ideamine.testing.AgentHarness``: one agent task the way a host runs it, for plugin authors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ideamine.enums import TaskStatus
from ideamine.errors import AgentError, InvalidInput
from ideamine.llm.offline import OfflineProvider
from ideamine.llm.replay import RecordingProvider
from ideamine.schemas import validate_artifact
from ideamine.testing import AgentHarness
from tests.agent_host import agents

IDEA = "A booking app for independent yoga studios with waitlists, class packs and instructor payouts."


async def test_a_catalogue_task_with_the_offline_model_is_metered_validated_and_committed() -> None:
    async with AgentHarness(idea=IDEA) as h:
        result = await h.run("classify")
        assert result.task.status is TaskStatus.SUCCEEDED and result.error is None
        content = result.artifact("idea-classification")
        assert validate_artifact("idea-classification", content) == []
        assert [a.model for a in result.artifacts] == ["offline"]
        assert [(c.provider, c.status) for c in result.llm_calls] == [("offline", "ok")]
        assert (await h.store.verify_ledger(h.run_id)).ok
        with pytest.raises(KeyError, match="no 'prd' artifact"):
            result.artifact("prd")


async def test_run_phases_follows_the_in_phase_order_and_feeds_later_tasks() -> None:
    async with AgentHarness(idea=IDEA) as h:
        results = await h.run_phases("intake")
        assert [r.task.task_key for r in results] == ["classify", "expand", "validate"]
        spec = results[1].artifact("idea-spec")
        assert "yoga" in str(spec).lower()


async def test_seeded_artifacts_feedback_and_the_agent_under_test() -> None:
    async with AgentHarness(agents=[agents.ProbeAgent], builtins=False, idea=IDEA) as h:
        await h.seed({"risk-register": {"risks": []}})
        report = (await h.run("probe", feedback=["name the payout schedule"])).artifact("probe-report")
    assert report["artifacts"] == ["risk-register"] and report["feedback"] == ["name the payout schedule"]
    assert report["idea"] == IDEA


async def test_isolated_run_matches_in_process() -> None:
    async with AgentHarness(idea=IDEA) as h:
        in_process = (await h.run("classify")).artifact("idea-classification")
    async with AgentHarness(idea=IDEA, isolation="process") as h:
        isolated = await h.run("classify")
    assert isolated.artifact("idea-classification") == in_process
    assert len(isolated.llm_calls) == 1  # metered by the harness process, not the child


async def test_a_recorded_cassette_replays_the_same_artifact(tmp_path: Path) -> None:
    cassette = tmp_path / "cassette.jsonl"
    async with AgentHarness(idea=IDEA, model=RecordingProvider(OfflineProvider(), cassette)) as h:
        recorded = (await h.run("classify")).artifact("idea-classification")
    async with AgentHarness(idea=IDEA, model=f"replay:{cassette}") as h:
        replayed = await h.run("classify")
    assert replayed.artifact("idea-classification") == recorded
    # answers come from the cassette only: another idea is a miss, never a fresh generation
    async with AgentHarness(idea=IDEA + " Now with yurts.", model=f"replay:{cassette}") as h:
        with pytest.raises(AgentError, match="REPLAY_MISS"):
            await h.run("classify")


async def test_a_failing_task_raises_with_its_reason_or_reports_it() -> None:
    async with AgentHarness(agents=[agents.HogAgent], builtins=False) as h:
        with pytest.raises(AgentError, match=r"failed \(AGENT_CRASHED\): ValueError: the hog agent refuses"):
            await h.run("hog-raise")
        result = await h.run("hog-raise", check=False)
    assert result.task.status is TaskStatus.FAILED
    assert result.error == ("AGENT_CRASHED", True, "ValueError: the hog agent refuses")


async def test_an_unknown_task_is_invalid_input() -> None:
    async with AgentHarness(builtins=False, agents=[agents.ProbeAgent]) as h:
        with pytest.raises(InvalidInput, match="no registered agent handles task 'nope'"):
            await h.run("nope")
