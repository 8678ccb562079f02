"""``ideamine serve orchestrator`` with a settable ``max_active_runs`` (the CLI has no flag for it).

The memory benchmark of :mod:`bench.scale` needs one replica to hold 1,000 runs at once;
the command line caps a replica at the config default (100). This starts the same
:class:`~orchestrator.server.OrchestratorServer` from the same
:func:`~orchestrator.config.load_config` (database and Redis URLs from the environment),
without the CLI's metrics endpoint and log set-up.

Usage: ``python -m bench._orchestrator LISTEN HS256_SECRET QUEUE_PREFIX MAX_ACTIVE_RUNS``.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from orchestrator.config import load_config
from orchestrator.server import OrchestratorServer


def main(argv: list[str]) -> int:
    """Serve until SIGTERM."""
    listen, secret, prefix, max_runs = argv
    logging.basicConfig(level=logging.WARNING)
    config = load_config(
        {
            "listen": listen,
            "jwt_hs256_secret": secret,
            "queue_prefix": prefix,
            "max_active_runs": int(max_runs),
        }
    )
    asyncio.run(OrchestratorServer(config).run())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
