"""``python -m gateway``: the same as ``ideamine serve gateway`` (render, validate, exec Envoy)."""

from __future__ import annotations

import argparse
import sys

from gateway.serve import add_arguments, main
from ideamine.errors import IdeaMineError


def run(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and serve; bad settings exit 2 with one line, never a traceback."""
    parser = argparse.ArgumentParser(prog="python -m gateway", description=__doc__)
    add_arguments(parser)
    try:
        return main(parser.parse_args(argv))
    except IdeaMineError as exc:
        print(f"gateway: error: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(run())
