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


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``submit``, ``watch``, ``runs``, ``answer`` and ``artifacts``."""
    p = sub.add_parser("submit", help="create a run on the orchestrator from a run file")
    p.add_argument("runfile", help="a run file (YAML) or the idea text itself")
    p.add_argument("--watch", action="store_true", help="stream the run's events until it ends")
    _common(p)
    p.set_defaults(handler=_runner(_submit))

    p = sub.add_parser("watch", help="stream a run's events until it ends")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--after-seq", type=int, default=0, help="resume after this event sequence number")
    _common(p)
    p.set_defaults(handler=_runner(_watch))

    runs = sub.add_parser("runs", help="list, inspect and steer runs on the orchestrator")
    rs = runs.add_subparsers(dest="runs_command", metavar="COMMAND", required=True)
    p = rs.add_parser("list", help="the tenant's runs, newest first")
    p.add_argument("--status", action="append", help="only runs in this status (repeatable)")
    p.add_argument("--limit", type=int, default=50, help="at most this many runs")
    _common(p)
    p.set_defaults(handler=_runner(_runs_list))
    p = rs.add_parser("get", help="one run as JSON")
    p.add_argument("run", metavar="RUN")
    _common(p)
    p.set_defaults(handler=_runner(_runs_get))
    for action in ("cancel", "pause", "resume"):
        p = rs.add_parser(action, help=f"{action} a run")
        p.add_argument("run", metavar="RUN")
        if action != "resume":
            p.add_argument("--reason", default="", help="recorded in the run's ledger")
        _common(p)
        p.set_defaults(handler=_runner(_control(action)))

    p = sub.add_parser("answer", help="answer a run's question as a human")
    p.add_argument("run", metavar="RUN")
    p.add_argument("question", metavar="QUESTION", help="the question's id or code (Q-003)")
    p.add_argument("text", metavar="TEXT")
    _common(p)
    p.set_defaults(handler=_runner(_answer))

    arts = sub.add_parser("artifacts", help="list and read a run's artifacts")
    s = arts.add_subparsers(dest="artifacts_command", metavar="COMMAND", required=True)
    p = s.add_parser("list", help="artifacts of a run")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--phase", help="only this phase, e.g. prd")
    p.add_argument("--type", help="only this artifact type")
    p.add_argument("--latest", action="store_true", help="only the latest version of each")
    _common(p)
    p.set_defaults(handler=_runner(_artifacts_list))
    p = s.add_parser("get", help="one artifact's content (JSON) or Markdown")
    p.add_argument("run", metavar="RUN")
    p.add_argument("artifact", metavar="ARTIFACT")
    p.add_argument("--markdown", action="store_true", help="render it as Markdown")
    _common(p)
    p.set_defaults(handler=_runner(_artifacts_get))
