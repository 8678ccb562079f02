"""``python -m orchestrator [flags]`` — the same as ``ideamine serve orchestrator [flags]``."""

from __future__ import annotations

import sys

from ideamine.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["serve", "orchestrator", *sys.argv[1:]]))
