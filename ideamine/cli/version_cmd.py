"""``ideamine version``: print the package version."""

from __future__ import annotations

import argparse
from importlib.metadata import PackageNotFoundError, version


def package_version() -> str:
    """The installed distribution's version (``0+unknown`` from a bare checkout)."""
    try:
        return version("ideamine")
    except PackageNotFoundError:
        return "0+unknown"


def _run(args: argparse.Namespace) -> int:
    print(f"ideamine {package_version()}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``version`` command."""
    p = sub.add_parser("version", help="print the IdeaMine version")
    p.set_defaults(handler=_run)
