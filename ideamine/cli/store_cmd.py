"""``ideamine migrate`` and ``ideamine ledger verify``: operate on the durable store.

Exit codes follow the CLI's convention: 0 ok, 2 bad input (a malformed URL or run id,
an unknown run, a database that refuses migration), and for ``ledger verify`` 1 when
the chain is broken — a distinct code so scripts and alerts can tell tampering from
typos.
"""

from __future__ import annotations

import argparse
import asyncio

from ideamine.errors import InvalidInput
from ideamine.ids import is_id
from ideamine.store.factory import backend_name, open_store

__all__ = ["register", "EXIT_CHAIN_BROKEN"]

#: exit code of ``ledger verify`` when the chain does not verify
EXIT_CHAIN_BROKEN = 1


async def _migrate(url: str) -> int:
    if backend_name(url) == "sqlite":
        store = await open_store(url)  # the SQLite backend creates and checks its schema on open
        await store.close()
        print(f"ideamine: SQLite store at {url} is up to date")
        return 0
    from ideamine.store.migrate import migrate

    applied = await migrate(url)
    for mig in applied:
        print(f"applied {mig.version:04d}_{mig.name}")
    if not applied:
        print("ideamine: database is up to date")
    return 0


async def _verify(url: str, run_id: str) -> int:
    if not is_id(run_id):
        raise InvalidInput(f"{run_id!r} is not a run id", field="run_id")
    store = await open_store(url)
    try:
        result = await store.verify_ledger(run_id)
        if result.ok:
            print(f"ledger of run {run_id}: OK ({result.rows} rows)")
            return 0
        print(f"ledger of run {run_id}: BROKEN at seq {result.first_bad_seq}: {result.reason}")
        bad = result.first_bad_seq or 1
        for row in await store.list_events(run_id, after_seq=bad - 1, limit=1):
            print(
                f"  seq={row.seq} type={row.type} phase={row.phase} task_id={row.task_id} "
                f"created_at={row.created_at.isoformat()}\n  prev_hash={row.prev_hash}\n  hash={row.hash}\n"
                f"  payload={row.payload}"
            )
        return EXIT_CHAIN_BROKEN
    finally:
        await store.close()


def _add_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        required=True,
        metavar="URL",
        help="postgresql://user@host:port/db or sqlite:///path/to/file.db",
    )


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``migrate`` and ``ledger`` commands."""
    p = sub.add_parser("migrate", help="apply pending database migrations (forward-only)")
    _add_url(p)
    p.set_defaults(handler=lambda args: asyncio.run(_migrate(args.database_url)))

    ledger = sub.add_parser("ledger", help="inspect a run's hash-chained ledger")
    ledger_sub = ledger.add_subparsers(dest="ledger_command", metavar="COMMAND", required=True)
    v = ledger_sub.add_parser("verify", help="recompute a run's hash chain; exit 1 at the first bad row")
    v.add_argument("run_id", metavar="RUN_ID")
    _add_url(v)
    v.set_defaults(handler=lambda args: asyncio.run(_verify(args.database_url, args.run_id)))
