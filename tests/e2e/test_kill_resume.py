"""kill -9 of the embedded process mid-run, then ``ideamine resume``: nothing lost, nothing paid twice."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from ideamine.embedded import DB_FILE
from ideamine.enums import RunStatus, TaskStatus
from ideamine.store.sqlite import open_sqlite

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "ideamine.cli.main", *args]


async def _succeeded_tasks(db: Path) -> dict[str, int]:
    store = await open_sqlite(db)
    try:
        meta_runs = await store.list_runs()
        if not meta_runs.items:
            return {}
        run_id = meta_runs.items[0].id
        done = {t.id for t in await store.list_tasks(run_id) if t.status is TaskStatus.SUCCEEDED}
        calls = Counter(c.task_id for c in await store.list_llm_calls(run_id=run_id))
        return {t: calls[t] for t in done}
    finally:
        await store.close()


def test_kill_9_mid_run_then_resume_finishes_without_rerunning_completed_tasks(tmp_path: Path) -> None:
    out = tmp_path / "iot"
    log_path = tmp_path / "run.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        _cli("run", str(ROOT / "examples/orchestrations/iot-dashboard.yaml"), "--out", str(out), "--quiet"),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    db = out / DB_FILE
    before: dict[str, int] = {}
    try:
        for _ in range(600):  # up to ~60 s for at least 8 committed tasks
            if proc.poll() is not None:
                break
            if db.exists():
                before = asyncio.run(_succeeded_tasks(db))
                if len(before) >= 8:
                    break
            time.sleep(0.1)  # polling a separate process's progress
        assert proc.poll() is None, f"run ended before it could be killed: {log_path.read_text()}"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        log.close()
    before = asyncio.run(_succeeded_tasks(db))
    assert before, "no task had completed before the kill"

    resumed = subprocess.run(
        _cli("resume", str(out), "--quiet"), cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr

    after = asyncio.run(_succeeded_tasks(db))
    for task_id, calls in before.items():
        assert after[task_id] == calls, f"task {task_id} was executed again after resume"
    asyncio.run(_check_final(db, json.loads((out / "run.json").read_text())["run_id"]))
    assert (out / "report.md").is_file()


async def _check_final(db: Path, run_id: str) -> None:
    store = await open_sqlite(db)
    try:
        run = await store.get_run(run_id)
        assert run.status is RunStatus.SUCCEEDED
        assert (await store.verify_ledger(run_id)).ok
        keys = Counter(
            t.idempotency_key for t in await store.list_tasks(run_id) if t.status is TaskStatus.SUCCEEDED
        )
        assert max(keys.values()) == 1
    finally:
        await store.close()
