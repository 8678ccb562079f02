#!/usr/bin/env python3
"""Regenerate ``docs/openapi.yaml`` from the descriptor set's ``google.api.http`` annotations.

    venv/bin/python scripts/gen_openapi.py              # rewrite docs/openapi.yaml
    venv/bin/python scripts/gen_openapi.py --check      # exit 1 when the file is stale
    venv/bin/python scripts/gen_openapi.py --out FILE   # write elsewhere

Run it after ``make proto``; the document is built by :mod:`gateway.openapi` from the same
route table the Envoy config uses, so REST docs and the gateway cannot disagree.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.openapi import render_openapi  # noqa: E402
from gateway.routes import load_routes  # noqa: E402

DEFAULT_OUT = ROOT / "docs" / "openapi.yaml"


def main(argv: list[str] | None = None) -> int:
    """Write (or, with ``--check``, compare) the OpenAPI document; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output file (default: docs/openapi.yaml)"
    )
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if the file differs")
    args = parser.parse_args(argv)
    text = render_openapi(load_routes())
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: run scripts/gen_openapi.py", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
