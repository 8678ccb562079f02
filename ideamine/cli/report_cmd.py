"""``ideamine report``: write a run's self-contained HTML report.

Two sources, one reader (the ``RunStore`` protocol):

- an embedded run directory (the ``--out`` of ``ideamine run``: ``run.json`` names the run,
  ``ideamine.sqlite3`` holds it): ``ideamine report out/todo-app --html report.html``;
- a run in PostgreSQL: ``ideamine report --database-url URL --run RUN_ID --html FILE``.

Exit codes follow the CLI's convention: 0 written, 2 bad input (no such directory or
run, both or neither source, a malformed URL or id, an unwritable target).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from ideamine.cli.run_cmd import RUN_META
from ideamine.errors import InvalidInput
from ideamine.ids import is_id

__all__ = ["register", "REPORT_FILE"]

#: default report file inside a run directory
REPORT_FILE = "report.html"


def _embedded_source(directory: Path) -> tuple[str, str]:
    """``(store URL, run id)`` of an embedded run directory."""
    from ideamine.embedded import DB_FILE

    meta_path = directory / RUN_META
    if not meta_path.is_file():
        raise InvalidInput(
            f"{directory} holds no run (no {RUN_META}); it must be the --out directory of `ideamine run`",
            field="dir",
        )
    try:
        run_id = json.loads(meta_path.read_text(encoding="utf-8"))["run_id"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"{meta_path} is not a run file of `ideamine run` ({exc})", field="dir") from exc
    db = directory / DB_FILE
    if not db.is_file():
        raise InvalidInput(f"{directory} has {RUN_META} but no {DB_FILE}", field="dir")
    return f"sqlite:///{db}", str(run_id)


def _source(args: argparse.Namespace) -> tuple[str, str, Path]:
    """Validate the arguments: ``(store URL, run id, output path)``."""
    if args.dir and args.database_url:
        raise InvalidInput("give either a run directory or --database-url, not both", field="dir")
    if args.dir:
        if args.run:
            raise InvalidInput(
                "--run goes with --database-url; a run directory names its own run", field="run"
            )
        url, run_id = _embedded_source(Path(args.dir))
        html = Path(args.html) if args.html else Path(args.dir) / REPORT_FILE
    elif args.database_url:
        if not args.run:
            raise InvalidInput("--database-url needs --run RUN_ID", field="run")
        if not args.html:
            raise InvalidInput("--database-url needs --html FILE (where to write the report)", field="html")
        url, run_id, html = args.database_url, args.run, Path(args.html)
    else:
        raise InvalidInput("name a run: a run directory, or --database-url URL --run RUN_ID", field="dir")
    if not is_id(run_id):
        raise InvalidInput(f"{run_id!r} is not a run id", field="run")
    if html.is_dir():
        raise InvalidInput(f"--html {html} is a directory; give a file name", field="html")
    return url, run_id, html


def _plugin_renderer() -> Any:
    """Render artifacts through the ``ideamine_render_artifact`` hook, as ``ideamine run`` does."""
    from ideamine.plugins import get_plugin_manager

    pm = get_plugin_manager()

    def render(artifact_type: str, content: dict[str, Any], model: str) -> str:
        return str(
            pm.hook.ideamine_render_artifact(artifact_type=artifact_type, content=content, model=model)
        )

    return render


async def _report(url: str, run_id: str, html: Path) -> int:
    from ideamine.store.factory import open_store
    from orchestrator.report_html import write_html_report

    store = await open_store(url)
    try:
        try:
            path = await write_html_report(store, run_id, html, _plugin_renderer())
        except OSError as exc:
            raise InvalidInput(f"cannot write {html}: {exc.strerror or exc}", field="html") from exc
    finally:
        await store.close()
    print(f"report of run {run_id}: {path}")
    return 0


def _handle(args: argparse.Namespace) -> int:
    url, run_id, html = _source(args)
    return asyncio.run(_report(url, run_id, html))


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``report`` command."""
    p = sub.add_parser(
        "report",
        help="write a run's self-contained HTML report (timeline, gates, cost, traceability, artifacts)",
        description="Write one self-contained HTML file (no network needed to view it) for a run.",
    )
    p.add_argument("dir", nargs="?", help="an embedded run directory (the --out of `ideamine run`)")
    p.add_argument("--html", metavar="FILE", help=f"where to write the report (default: DIR/{REPORT_FILE})")
    p.add_argument("--database-url", metavar="URL", help="read the run from this store (postgresql://…)")
    p.add_argument("--run", metavar="RUN_ID", help="the run to report (with --database-url)")
    p.set_defaults(handler=_handle)
