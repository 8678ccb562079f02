"""Submit a run file to an orchestrator, watch the run to its end and print the outcome.

::

    IDEAMINE_TOKEN=$JWT venv/bin/python examples/orchestrations/submit.py examples/orchestrations/todo-app.yaml

The orchestrator is ``--server HOST:PORT``, else ``IDEAMINE_ORCHESTRATOR_ADDR``, else
127.0.0.1:50051; the bearer token is ``IDEAMINE_TOKEN`` (unset for an ``--insecure-local``
server). It uses only the public Python client, :mod:`ideamine.client`: create the run,
follow its events (phases and gates as they happen) until it ends or stops for a person,
then print the status, every gate evaluation with its score, and how many artifacts the
run produced.

Exit codes match ``ideamine run``: 0 succeeded, 1 failed or the server could not be
reached, 2 bad input (a malformed run file, a refused request), 3–6 the run stopped
(needs a waiver, budget exhausted, awaiting input, paused or cancelled).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Sequence

from ideamine._proto.ideamine.v1 import common_pb2
from ideamine.cli.run_cmd import EXIT_CODES
from ideamine.client import IdeaMineClient, RpcError
from ideamine.config import orchestrator_address_from_env
from ideamine.convert import enum_from_proto
from ideamine.enums import RunStatus
from ideamine.errors import IdeaMineError
from ideamine.runfile import load_run_file

#: event types worth a line while the run goes (tasks are too chatty for an example)
SHOWN_EVENTS = ("run.", "phase.", "gate.")
#: the run now waits for a person (an answer, a waiver, a raised budget, a resume); the
#: server keeps the stream open for whoever acts, this script stops watching and reports
STOPPED_EVENTS = frozenset({"run.awaiting_input", "run.needs_waiver", "run.budget_exhausted", "run.paused"})


def _name(enum: object, number: int, prefix: str) -> str:
    """A proto enum number as its short lower-case name, e.g. PHASE_STORY_LOOP → story-loop."""
    name: str = enum.Name(number)  # type: ignore[attr-defined]
    return name.removeprefix(prefix).lower().replace("_", "-")


async def submit(run_file: str, *, server: str, token: str | None) -> int:
    """Create the run, print its events until it ends or stops, then its outcome; returns the exit code."""
    request = load_run_file(run_file)  # a bad file fails here, before anything is sent
    async with IdeaMineClient(server, token=token, max_attempts=3) as client:
        run = await client.create_run(request)
        print(f"run {run.id} created on {server}: {request.title} ({len(run.planned_phases)} phases)")
        # aclosing: leaving the loop early cancels the stream now (watch_run is an async generator)
        async with contextlib.aclosing(client.watch_run(run.id)) as events:  # type: ignore[type-var]
            async for event in events:
                if event.type.startswith(SHOWN_EVENTS):
                    phase = _name(common_pb2.Phase, event.phase, "PHASE_") if event.phase else ""
                    print(f"  {event.seq:>5} {event.type:<20} {phase}", flush=True)
                if event.type in STOPPED_EVENTS:
                    break
        run = await client.get_run(run.id)
        gates = await client.list_gate_evaluations(run.id)
        artifacts = await client.list_artifacts(run.id, omit_content=True)

    status = enum_from_proto(RunStatus, run.status, field="status")
    print(f"status: {status.value}" + (f" ({run.status_reason})" if run.status_reason else ""))
    print("gates:")
    for gate in gates:
        phase = _name(common_pb2.Phase, gate.phase, "PHASE_")
        decision = _name(common_pb2.GateDecision, gate.decision, "GATE_DECISION_").upper()
        print(
            f"  {phase:<13} attempt {gate.attempt}  {decision:<5} {gate.score:5.1f} / min {gate.min_score:g}"
        )
    print(f"artifacts: {len(artifacts)}")
    usage = run.usage
    print(f"usage: {usage.input_tokens + usage.output_tokens} tokens, ${usage.cost_usd:.4f}")
    return EXIT_CODES.get(status, 1)


def main(argv: Sequence[str] | None = None, *, run_file: str | None = None) -> int:
    """Parse arguments and submit; errors are one line on stderr, never a traceback.

    Args:
        argv: command-line arguments (default ``sys.argv[1:]``).
        run_file: a fixed run file (the per-example wrappers); then RUN_FILE is not taken.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    if run_file is None:
        parser.add_argument("run_file", metavar="RUN_FILE", help="a run file (YAML), e.g. todo-app.yaml")
    parser.add_argument("--server", metavar="HOST:PORT", help="orchestrator (env IDEAMINE_ORCHESTRATOR_ADDR)")
    args = parser.parse_args(argv)
    server = args.server or orchestrator_address_from_env()
    token = os.environ.get("IDEAMINE_TOKEN", "").strip() or None
    try:
        return asyncio.run(submit(run_file or args.run_file, server=server, token=token))
    except RpcError as exc:
        print(f"error: {exc.message} (server {server})", file=sys.stderr)
        return 1
    except IdeaMineError as exc:
        print(f"error: {exc.message}", file=sys.stderr)  # names every bad field
        return 2


if __name__ == "__main__":
    sys.exit(main())
