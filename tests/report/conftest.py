"""Session fixtures: the runs every report test reads, made once and concurrently.

- ``healthcare``: all 13 phases (security ∥ story-loop, Q/A/V questions and assumptions);
- ``gate_loop``: the todo app with a third-party story writer that forgets acceptance
  criteria on its first attempt, so the PRD gate fails once and passes on attempt 2;
- ``budget``: the todo app with a token budget too small to finish (stops mid-run);
- ``xss``: an idea and title made of hostile markup.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ideamine.store.records import BudgetLimits
from tests.e2e.test_embedded_run import _Plugin as ForgetfulStoriesPlugin
from tests.report.support import example_request, make_run, xss_request
from tests.store_pg.conftest import empty_db, migrated_db  # noqa: F401  (a fresh, migrated PostgreSQL database)


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Run directories by name (see the module docstring)."""
    base = tmp_path_factory.mktemp("report-runs")
    plans = {
        "healthcare": (example_request("healthcare-platform.yaml"), ()),
        "gate_loop": (example_request("todo-app.yaml"), (ForgetfulStoriesPlugin(),)),
        "budget": (example_request("todo-app.yaml", budget=BudgetLimits(tokens=30_000)), ()),
        "xss": (xss_request(), ()),
    }

    async def make_all() -> None:
        await asyncio.gather(
            *(make_run(base / name, req, extra=extra) for name, (req, extra) in plans.items())
        )

    asyncio.run(make_all())
    return {name: base / name for name in plans}
