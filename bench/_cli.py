"""Argument helpers shared by the benchmark commands: bad input exits 2 with one line."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_results", "positive_ints"]


def positive_ints(p: argparse.ArgumentParser, flag: str, text: str) -> list[int]:
    """A comma list of positive integers, or exit 2 naming the flag."""
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        p.error(f"{flag} takes positive integers separated by commas, not {text!r}")
    return values


def add_results(p: argparse.ArgumentParser) -> None:
    """``--results DIR``: where the JSON goes (default ``bench/results``)."""
    p.add_argument("--results", type=Path, help="result directory (default bench/results)")
