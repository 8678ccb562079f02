"""``python -m agent_host`` / ``ideamine serve agent-host``: parse flags → config → run the host.

Exit codes: 0 after an orderly drain, 2 for bad settings or a plugin that fails to load
(one line naming the flag or the plugin, never a traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from agent_host.config import add_arguments, config_from_args
from ideamine import event_loop
from ideamine.errors import IdeaMineError

__all__ = ["build_parser", "main", "serve"]

#: exit code for bad settings (the CLI's bad-input code)
EXIT_BAD_INPUT = 2


def serve(args: argparse.Namespace) -> int:
    """Run an agent host with the parsed flags until it has drained; the process exit code.

    Raises:
        IdeaMineError: bad settings, an unreachable store, a broken plugin (the CLI prints
            the message and exits 2).
    """
    from agent_host.server import AgentHost
    from ideamine.observability import setup_service

    config = config_from_args(args)
    event_loop.chosen_loop()  # refuse a bad IDEAMINE_EVENT_LOOP before anything starts
    obs = setup_service(
        "ideamine-agent-host",
        metrics_port=config.metrics_port,
        listen=config.listen,
        log_level=config.log_level,
    )
    try:
        event_loop.run(AgentHost(config).run(freeze_heap=True))
    finally:
        obs.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m agent_host``."""
    parser = argparse.ArgumentParser(prog="python -m agent_host", description="Run an IdeaMine agent host.")
    add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and serve; expected errors exit 2 with one line."""
    args = build_parser().parse_args(argv)
    try:
        return serve(args)
    except IdeaMineError as exc:
        print(f"agent-host: error: {exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
