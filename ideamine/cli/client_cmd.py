"""Client commands against a running orchestrator (``ideamine serve orchestrator``).

::

    ideamine submit examples/orchestrations/todo-app.yaml [--watch]
    ideamine watch RUN [--after-seq N]
    ideamine runs list [--status RUNNING ...] | get RUN | cancel RUN | pause RUN | resume RUN
    ideamine answer RUN QUESTION TEXT          # QUESTION: its id or its code, e.g. Q-003
    ideamine artifacts list RUN [--phase prd] [--type prd] [--latest] | get RUN ARTIFACT [--markdown]

Every command takes ``--server HOST:PORT`` (default ``IDEAMINE_ORCHESTRATOR_ADDR``, then
127.0.0.1:50051) and ``--token JWT``. Exit codes: 0 ok · 2 bad input (a malformed run
file, an unknown run, a refused request — one message, never a traceback) · 1 the server
could not be reached or failed; ``watch`` and ``submit --watch`` end with the run's
status code as ``ideamine run`` does (0 succeeded, 1 failed, 3–6 stopped).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["register"]

#: exit code when the server is unreachable or fails (not the user's input)
EXIT_SERVER = 1


def _client(args: argparse.Namespace) -> Any:
    from ideamine.client import IdeaMineClient
    from ideamine.config import orchestrator_address_from_env

    return IdeaMineClient(args.server or orchestrator_address_from_env(), token=args.token, max_attempts=3)


def _runner(body: Callable[[Any, argparse.Namespace], Awaitable[int]]) -> Callable[[argparse.Namespace], int]:
    """Run ``body(client, args)``; server-side failures exit 1, refusals propagate (exit 2)."""

    def handler(args: argparse.Namespace) -> int:
        from ideamine.client import RpcError

        async def main() -> int:
            async with _client(args) as client:
                return await body(client, args)

        try:
            return asyncio.run(main())
        except RpcError as exc:
            print(
                f"ideamine: server error: {exc.message} (server {args.server or 'from env'})", file=sys.stderr
            )
            return EXIT_SERVER

    return handler


def _run_line(run: Any) -> str:
    from ideamine._proto.ideamine.v1 import common_pb2

    status = common_pb2.RunStatus.Name(run.status).removeprefix("RUN_STATUS_")
    return f"{run.id}  {status:<16} {run.title}"


def _exit_code(status: int) -> int:
    from ideamine.cli.run_cmd import EXIT_CODES
    from ideamine.convert import enum_from_proto
    from ideamine.enums import RunStatus

    return EXIT_CODES.get(enum_from_proto(RunStatus, status, field="status"), 1)


async def _follow(client: Any, run_id: str, after_seq: int) -> int:
    from ideamine.convert import message_to_json

    async for event in client.watch_run(run_id, after_seq=after_seq):
        payload = message_to_json(event.payload) if event.payload.fields else ""
        print(f"{event.seq:>6} {event.type:<22} {payload}", flush=True)
    run = await client.get_run(run_id)
    print(_run_line(run))
    return _exit_code(run.status)


async def _submit(client: Any, args: argparse.Namespace) -> int:
    from ideamine.runfile import load_run_file

    run = await client.create_run(load_run_file(args.runfile))
    print(run.id)
    return await _follow(client, run.id, 0) if args.watch else 0


async def _watch(client: Any, args: argparse.Namespace) -> int:
    from ideamine.errors import InvalidInput

    if args.after_seq < 0:
        raise InvalidInput("--after-seq must not be negative", field="after_seq")
    return await _follow(client, args.run, args.after_seq)


async def _runs_list(client: Any, args: argparse.Namespace) -> int:
    from ideamine.enums import RunStatus
    from ideamine.errors import InvalidInput

    try:
        statuses = [RunStatus(s.upper()) for s in args.status or []]
    except ValueError:
        raise InvalidInput(
            f"--status must be one of {', '.join(s.value for s in RunStatus)}", field="status"
        ) from None
    page = await client.list_runs(statuses=statuses, page_size=args.limit)
    for run in page.runs:
        print(_run_line(run))
    return 0


async def _runs_get(client: Any, args: argparse.Namespace) -> int:
    from ideamine.convert import message_to_json

    print(message_to_json(await client.get_run(args.run)))
    return 0


def _control(action: str) -> Callable[[Any, argparse.Namespace], Awaitable[int]]:
    async def body(client: Any, args: argparse.Namespace) -> int:
        if action == "resume":
            run = await client.resume_run(args.run)
        else:
            run = await getattr(client, f"{action}_run")(args.run, args.reason)
        print(_run_line(run))
        return 0

    return body


async def _answer(client: Any, args: argparse.Namespace) -> int:
    q = await client.answer_question(args.run, args.question, args.text)
    print(f"{q.id} answered")
    return 0


async def _artifacts_list(client: Any, args: argparse.Namespace) -> int:
    artifacts = await client.list_artifacts(
        args.run, phase=args.phase, type=args.type or "", latest_only=args.latest, omit_content=True
    )
    for a in artifacts:
        print(f"{a.id}  v{a.version:<3} {a.type:<28} {a.model}")
    return 0


async def _artifacts_get(client: Any, args: argparse.Namespace) -> int:
    from ideamine.convert import message_to_json

    if args.markdown:
        print(await client.render_artifact(args.run, args.artifact))
    else:
        print(message_to_json((await client.get_artifact(args.run, args.artifact)).content))
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--server", metavar="HOST:PORT", help="orchestrator address (env IDEAMINE_ORCHESTRATOR_ADDR)"
    )
    p.add_argument("--token", metavar="JWT", help="bearer token (not needed for an --insecure-local server)")


def _command(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    name: str,
    help: str,
    body: Callable[[Any, argparse.Namespace], Awaitable[int]],
    *positionals: str,
) -> argparse.ArgumentParser:
    """A subcommand with its positionals, --server/--token, running ``body``."""
    p: argparse.ArgumentParser = sub.add_parser(name, help=help)
    for positional in positionals:
        p.add_argument(positional.lower(), metavar=positional)
    p.add_argument(
        "--server", metavar="HOST:PORT", help="orchestrator address (env IDEAMINE_ORCHESTRATOR_ADDR)"
    )
    p.add_argument("--token", metavar="JWT", help="bearer token (not needed for an --insecure-local server)")
    p.set_defaults(handler=_runner(body))
    return p


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``submit``, ``watch``, ``runs``, ``answer`` and ``artifacts``."""
    p = _command(sub, "submit", "create a run on the orchestrator from a run file", _submit, "RUNFILE")
    p.add_argument("--watch", action="store_true", help="stream the run's events until it ends")
    p = _command(sub, "watch", "stream a run's events until it ends", _watch, "RUN")
    p.add_argument("--after-seq", type=int, default=0, help="resume after this event sequence number")

    runs = sub.add_parser("runs", help="list, inspect and steer runs on the orchestrator")
    rs = runs.add_subparsers(dest="runs_command", metavar="COMMAND", required=True)
    p = _command(rs, "list", "the tenant's runs, newest first", _runs_list)
    p.add_argument("--status", action="append", help="only runs in this status (repeatable)")
    p.add_argument("--limit", type=int, default=50, help="at most this many runs")
    _command(rs, "get", "one run as JSON", _runs_get, "RUN")
    for action in ("cancel", "pause", "resume"):
        p = _command(rs, action, f"{action} a run", _control(action), "RUN")
        if action != "resume":
            p.add_argument("--reason", default="", help="recorded in the run's ledger")

    _command(
        sub,
        "answer",
        "answer a run's question as a human (QUESTION: its id or code, e.g. Q-003)",
        _answer,
        "RUN",
        "QUESTION",
        "TEXT",
    )

    arts = sub.add_parser("artifacts", help="list and read a run's artifacts")
    s = arts.add_subparsers(dest="artifacts_command", metavar="COMMAND", required=True)
    p = _command(s, "list", "artifacts of a run", _artifacts_list, "RUN")
    p.add_argument("--phase", help="only this phase, e.g. prd")
    p.add_argument("--type", help="only this artifact type")
    p.add_argument("--latest", action="store_true", help="only the latest version of each")
    p = _command(s, "get", "one artifact's content (JSON) or Markdown", _artifacts_get, "RUN", "ARTIFACT")
    p.add_argument("--markdown", action="store_true", help="render it as Markdown")
