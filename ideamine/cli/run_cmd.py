"""``ideamine run`` and ``ideamine resume``: the embedded default, one process, no servers.

Exit codes: 0 succeeded · 1 failed · 2 bad input · 3 gate failed (needs a waiver) ·
4 budget exhausted (resume with a raised budget) · 5 awaiting human input · 6 paused or
cancelled.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from ideamine import event_loop
from ideamine.enums import RunStatus
from ideamine.errors import InvalidInput
from ideamine.heap import freeze_startup_heap
from ideamine.store.records import BudgetLimits

EXIT_CODES = {
    RunStatus.SUCCEEDED: 0,
    RunStatus.FAILED: 1,
    RunStatus.NEEDS_WAIVER: 3,
    RunStatus.BUDGET_EXHAUSTED: 4,
    RunStatus.AWAITING_INPUT: 5,
    RunStatus.PAUSED: 6,
    RunStatus.CANCELLED: 6,
}
RUN_META = "run.json"


def _provider(spec: str) -> Any:
    from ideamine.llm.providers import make_provider

    anthropic_cfg = None
    if spec == "anthropic":
        from ideamine.config import anthropic_config_from_env

        anthropic_cfg = anthropic_config_from_env()
    return make_provider(spec, anthropic=anthropic_cfg)


async def _answer(store: Any, run_id: str, answers: list[str]) -> None:
    """Record human answers given as CODE=TEXT (e.g. Q-003=Families come first)."""
    from ideamine.enums import QuestionStatus

    by_code = {q.code: q for q in await store.list_questions(run_id)}
    for item in answers:
        code, sep, text = item.partition("=")
        q = by_code.get(code.strip())
        if not sep or not text.strip():
            raise InvalidInput(f"--answer takes CODE=TEXT, got {item!r}", field="answer")
        if q is None:
            raise InvalidInput(f"no question {code.strip()!r} in this run", field="answer")
        await store.answer_question(
            q.id,
            expected=[QuestionStatus.AWAITING_HUMAN, QuestionStatus.OPEN],
            status=QuestionStatus.ANSWERED_BY_HUMAN,
            answer=text.strip(),
            confidence=1.0,
            scores={},
            answered_by="human:cli",
        )


async def _drive(
    out: Path,
    model: str,
    run_id: str | None,
    request: Any,
    quiet: bool,
    raised: BudgetLimits | None,
    answers: list[str] | None = None,
) -> int:
    from ideamine.cli.progress import ProgressPrinter
    from ideamine.embedded import DB_FILE, EmbeddedRuntime
    from ideamine.observability import setup_embedded
    from ideamine.plugins import get_plugin_manager
    from orchestrator.report import write_outputs

    setup_embedded()  # terminal log lines; spans only if OTEL_TRACES_EXPORTER asks
    provider = _provider(model)
    async with EmbeddedRuntime(db_path=out / DB_FILE, provider=provider) as rt:
        freeze_startup_heap()
        if run_id is None:
            run = await rt.submit(request)
            run_id = run.id
            (out / RUN_META).write_text(
                json.dumps({"run_id": run_id, "model": model}, indent=2) + "\n", encoding="utf-8"
            )
        if run_id is not None and answers:
            await _answer(rt.store, run_id, answers)
        if run_id is not None and raised is not None:
            run = await rt.store.get_run(run_id)
            budget = replace(
                run.budget,
                usd=raised.usd if raised.usd is not None else run.budget.usd,
                tokens=raised.tokens if raised.tokens is not None else run.budget.tokens,
            )
            await rt.store.update_run_budget(run_id, budget)
        if model == "offline" and not quiet:
            print(
                "ideamine: using the offline model (deterministic generator, no LLM calls)", file=sys.stderr
            )
        printer = ProgressPrinter(rt.store, run_id)
        watcher = None if quiet else asyncio.create_task(printer.run())
        try:
            final = await rt.drive(run_id)
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
                await printer.flush()
        pm = get_plugin_manager()

        def render(t: str, c: dict[str, Any], m: str) -> str:
            return str(pm.hook.ideamine_render_artifact(artifact_type=t, content=c, model=m))

        report = await write_outputs(rt.store, run_id, out, render)
    print(f"run {run_id}: {final.status.value} — report: {report}")
    return EXIT_CODES.get(final.status, 1)


def _run(args: argparse.Namespace) -> int:
    from ideamine.runfile import load_run_file

    request = load_run_file(args.source)
    if args.phases:
        from ideamine.catalogue import load_catalogue
        from ideamine.runfile import parse_run_request

        wanted = [p.strip() for p in args.phases.split(",") if p.strip()]
        cat = load_catalogue()
        parse_run_request({"idea": request.idea, "phases": wanted})  # validates the names
        request = replace(request, phases=cat.closure(wanted), requested_phases=tuple(wanted))
    if args.budget_usd is not None:
        if args.budget_usd < 0:
            raise InvalidInput("--budget-usd must not be negative", field="budget_usd")
        request = replace(request, budget=replace(request.budget, usd=args.budget_usd))
    if args.budget_tokens is not None:
        if args.budget_tokens < 0:
            raise InvalidInput("--budget-tokens must not be negative", field="budget_tokens")
        request = replace(request, budget=replace(request.budget, tokens=args.budget_tokens))
    _check_model(args.model)
    event_loop.chosen_loop()  # a bad IDEAMINE_EVENT_LOOP is refused before --out is touched
    out = Path(args.out)
    if (out / RUN_META).exists():
        raise InvalidInput(f"{out} already holds a run; continue it with: ideamine resume {out}", field="out")
    out.mkdir(parents=True, exist_ok=True)
    return event_loop.run(_drive(out, args.model, None, request, args.quiet, None))


def _check_model(spec: str) -> None:
    """Refuse an unknown ``--model`` before anything is written (plugins' providers count)."""
    from ideamine.llm.providers import check_spec

    try:
        check_spec(spec)
    except InvalidInput as exc:
        raise InvalidInput(f"--model: {exc.message}", field="model") from None


def _resume(args: argparse.Namespace) -> int:
    out = Path(args.dir)
    meta_path = out / RUN_META
    if not meta_path.is_file():
        raise InvalidInput(
            f"{out} holds no run (no {RUN_META}); start one with: ideamine run IDEA --out {out}", field="dir"
        )
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    for name in ("budget_usd", "budget_tokens"):
        if (getattr(args, name) or 0) < 0:
            raise InvalidInput(f"--{name.replace('_', '-')} must not be negative", field=name)
    raised = None
    if args.budget_usd is not None or args.budget_tokens is not None:
        raised = BudgetLimits(tokens=args.budget_tokens, usd=args.budget_usd)
    return event_loop.run(
        _drive(out, args.model or meta["model"], meta["run_id"], None, args.quiet, raised, args.answer or [])
    )


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``run`` and ``resume`` commands."""
    p = sub.add_parser(
        "run", help="run an idea through its phases in one process (embedded, offline by default)"
    )
    p.add_argument("source", help="a run file (YAML, see examples/orchestrations/) or the idea text itself")
    p.add_argument("--phases", help="comma-separated phases to run (their dependencies are added)")
    p.add_argument("--budget-usd", type=float, help="the run's spending limit in USD")
    p.add_argument("--budget-tokens", type=int, help="the run's token limit")
    p.add_argument("--out", default="out/run", help="directory for artifacts, report.md, ledger and state")
    p.add_argument(
        "--model",
        default="offline",
        help="offline (default), anthropic, replay:FILE, record:FILE or a plugin's provider NAME[:ARG]",
    )
    p.add_argument("--quiet", action="store_true", help="no live progress")
    p.set_defaults(handler=_run)
    r = sub.add_parser("resume", help="continue an interrupted or stopped embedded run")
    r.add_argument("dir", help="the --out directory of the run")
    r.add_argument("--budget-usd", type=float, help="raise the run's USD budget before resuming")
    r.add_argument("--budget-tokens", type=int, help="raise the run's token budget before resuming")
    r.add_argument("--model", help="override the model the run was started with")
    r.add_argument(
        "--answer",
        action="append",
        metavar="CODE=TEXT",
        help="answer a waiting question, e.g. Q-003='Parents first'",
    )
    r.add_argument("--quiet", action="store_true", help="no live progress")
    r.set_defaults(handler=_resume)
