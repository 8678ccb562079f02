"""Chaos scenarios against the real distributed stack (see :mod:`tests.chaos.scenarios`).

One stack per module (private PostgreSQL cluster and Redis, the model server, two
orchestrator and three agent-host processes); each scenario runs ``CHAOS_ITERATIONS``
times (default 1: the smoke ``make test`` runs; ``make chaos`` runs 20 each and writes
``docs/reliability.md``). Every iteration's invariants are checked by the runner; the
results land in ``$CHAOS_RESULTS/<scenario>.json``. Last, a short soak on the same stack
(``CHAOS_SOAK_SECONDS``, 60: the CI-sized ``make soak``) with random faults, memory and
open-file growth of every process bounded.
"""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.chaos.runner import run_scenario, settings
from tests.chaos.scenarios import SCENARIOS
from tests.chaos.soak import Soak
from tests.chaos.stack import ChaosStack

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
]

ITERATIONS, SEED, RESULTS = settings()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ChaosStack]:
    async with ChaosStack(tmp_path_factory.mktemp("chaos")) as s:
        yield s


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_scenario_holds_every_invariant(stack: ChaosStack, name: str) -> None:
    result = await run_scenario(stack, name, iterations=ITERATIONS, seed=SEED, results=RESULTS)
    assert result.document()["passed"] == ITERATIONS


async def test_a_short_soak_holds_and_no_process_grows(stack: ChaosStack) -> None:
    seconds = float(os.environ.get("CHAOS_SOAK_SECONDS", "60"))
    seed = random.Random(SEED).randrange(1, 10**9)
    doc = await Soak(stack, seconds, seed).run()
    assert not doc["failures"], f"soak seed {seed}: {doc['failures']}"
    assert not doc["over_bounds"], f"soak seed {seed}: processes grew past the bounds: {doc['over_bounds']}"
    assert doc["ledger_ok"] and doc["runs"] > 0 and doc["processes"], doc
    assert doc["invariants"] == {"lost": 0, "duplicated": 0, "orphans": 0, "paid_twice": 0}, doc["invariants"]
