"""Running an example the way a user does: a separate process, its environment, its output."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ideamine.enums import RunStatus
from ideamine.store.records import RunRecord
from tests.gateway.backend import Backend
from tests.orchestrator.support import ROOT

EXAMPLES = ROOT / "examples"
#: generous: the healthcare example runs all 13 phases
PROCESS_TIMEOUT = 240.0
#: an idea that states no users, budget, timeline or technology: with the offline model its
#: intake gate fails every attempt, so the run stops in NEEDS_WAIVER within a second or two
THIN_IDEA = "A board game night planner that picks a game everyone owns and nobody has vetoed."


@dataclass(repr=False)
class Result:
    """What an example process did."""

    code: int
    out: str
    err: str

    def __repr__(self) -> str:  # what a failed assertion shows
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


def run_example(argv: Sequence[str], env: Mapping[str, str | None] | None = None) -> Result:
    """Run ``argv`` from the repository root with ``env`` added (a None value removes a variable)."""
    environ = {**os.environ}
    for key, value in (env or {}).items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    proc = subprocess.run(
        list(argv), cwd=ROOT, env=environ, capture_output=True, text=True, timeout=PROCESS_TIMEOUT
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def client_env(backend: Backend, **claims: Any) -> dict[str, str]:
    """The environment an example client reads: the orchestrator address and a bearer token."""
    return {"IDEAMINE_ORCHESTRATOR_ADDR": backend.server.address, "IDEAMINE_TOKEN": backend.token(**claims)}


def created_run_id(out: str) -> str:
    """The run id an example printed as ``... run <id> ...`` on its first line."""
    words = out.splitlines()[0].split()
    return words[words.index("run") + 1]


def stored_run(backend: Backend, run_id: str) -> RunRecord:
    """The run as the orchestrator's database has it."""
    return backend.loop.run(backend.store.get_run(run_id))


def assert_succeeded(backend: Backend, run_id: str) -> RunRecord:
    """The run is SUCCEEDED in the database, not only in the example's output."""
    run = stored_run(backend, run_id)
    assert run.status is RunStatus.SUCCEEDED, run.status_reason
    return run


def assert_clear_error(result: Result, code: int, *needles: str) -> None:
    """A refusal: exit ``code``, every needle on stderr, and no stack trace."""
    assert result.code == code, result
    for needle in needles:
        assert needle in result.err, result
    assert "Traceback" not in result.err and "\n    at " not in result.err, result
