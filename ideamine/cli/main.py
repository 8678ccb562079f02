"""Entry point of the ``ideamine`` command.

Each command group lives in its own module under ``ideamine.cli`` and exposes
``register(subparsers)``; adding a command means adding its module name to
:data:`COMMAND_MODULES`. Bad usage exits with code 2 and one clear message; expected
errors (:class:`ideamine.errors.IdeaMineError`) exit 2 as well, never with a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ideamine.errors import IdeaMineError

#: command modules, each with ``register(subparsers) -> None``
COMMAND_MODULES: tuple[str, ...] = (
    "ideamine.cli.version_cmd",
    "ideamine.cli.run_cmd",
    "ideamine.cli.store_cmd",
    "ideamine.cli.serve_cmd",
    "ideamine.cli.plugins_cmd",
    "ideamine.cli.gateway_cmd",
    "ideamine.cli.client_cmd",
    "ideamine.cli.report_cmd",
)

#: exit code for bad input (usage errors, invalid files, unknown names)
EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    """Build the full argument parser with every registered command."""
    parser = argparse.ArgumentParser(
        prog="ideamine",
        description="Turn a product idea into a complete, reviewed set of delivery artifacts.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(handler(args) or 0)
    except IdeaMineError as exc:
        print(f"ideamine: error: {exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("ideamine: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
