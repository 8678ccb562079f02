"""``ideamine serve agent-host`` and ``ideamine plugins list``: bad input is one line and exit 2."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent_host.config import add_arguments, config_from_args
from ideamine.errors import InvalidInput
from ideamine.ids import new_id
from tests.agent_host.procs import ROOT

BROKEN_PLUGIN = Path(__file__).parent / "fixtures" / "broken_plugin"
URLS = ["--database-url", "postgresql://127.0.0.1:5432/x", "--redis-url", "redis://127.0.0.1:6379/0"]


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_flags_beat_environment_beat_catalogue_defaults() -> None:
    env = {
        "IDEAMINE_DATABASE_URL": "postgresql://env/db",
        "IDEAMINE_REDIS_URL": "redis://env:6379/0",
        "IDEAMINE_ORCHESTRATOR_ADDR": "orch:50051",
        "IDEAMINE_MODEL": "replay:/tmp/c.jsonl",
        "IDEAMINE_JWT_HS256_SECRET": "s",
    }
    cfg = config_from_args(_args("--redis-url", "redis://flag:6379/1"), environ=env)
    assert (cfg.database_url, cfg.redis_url) == ("postgresql://env/db", "redis://flag:6379/1")
    assert cfg.orchestrator == "orch:50051" and cfg.model == "replay:/tmp/c.jsonl"
    assert (cfg.lease_seconds, cfg.heartbeat_seconds) == (15, 5)  # phases.yaml defaults
    assert cfg.listen == "127.0.0.1:50061" and cfg.isolation == "none" and cfg.jwt_issuer == "ideamine"
    assert "'s'" not in repr(cfg)  # secrets stay out of logs
    bare = config_from_args(_args(*URLS), environ={})
    assert bare.model == "offline" and bare.orchestrator is None


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        ([], "database_url"),
        (["--database-url", "postgresql://x/y"], "redis_url"),
        ([*URLS, "--listen", "nowhere"], "listen"),
        ([*URLS, "--orchestrator", "host:99999"], "orchestrator"),
        ([*URLS, "--concurrency", "0"], "concurrency"),
        ([*URLS, "--heartbeat-seconds", "20"], "heartbeat_seconds"),
        ([*URLS, "--host-id", "pod-7"], "host_id"),
        ([*URLS, "--queue-prefix", "a b"], "queue_prefix"),
        ([*URLS, "--grace-seconds", "-1"], "grace_seconds"),
        ([*URLS, "--metrics-port", "70000"], "metrics_port"),
    ],
)
def test_bad_settings_name_their_field(argv: list[str], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        config_from_args(_args(*argv), environ={})
    assert [v.field for v in err.value.violations] == [field]


def test_anthropic_without_a_key_is_bad_input() -> None:
    with pytest.raises(InvalidInput, match="ANTHROPIC_API_KEY"):
        config_from_args(_args(*URLS, "--model", "anthropic", "--host-id", new_id()), environ={})


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("IDEAMINE_")}
    return subprocess.run(
        [sys.executable, "-m", "ideamine.cli.main", *args],
        cwd=ROOT,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["serve", "agent-host"], "--database-url (or IDEAMINE_DATABASE_URL) is required"),
        (["serve", "agent-host", *URLS, "--lease-seconds", "1", "--heartbeat-seconds", "2"], "shorter than"),
        (["serve", "agent-host", *URLS, "--model", "gpt-9"], "unknown LLM provider 'gpt-9'"),
        (["serve", "agent-host", *URLS, "--isolation", "docker"], "invalid choice: 'docker'"),
    ],
)
def test_serve_agent_host_refuses_bad_input_with_one_line(argv: list[str], message: str) -> None:
    done = _cli(*argv)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


def test_a_plugin_that_fails_to_load_is_named_by_both_commands() -> None:
    env = {"PYTHONPATH": os.pathsep.join([str(BROKEN_PLUGIN), str(ROOT)])}
    for argv in (["plugins", "list"], ["serve", "agent-host", *URLS]):
        done = _cli(*argv, env=env)
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().splitlines() == [
            "ideamine: error: plugin 'test-broken': failed to load "
            "(ImportError: No module named 'some_missing_dependency')"
        ]
