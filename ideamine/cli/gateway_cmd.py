"""``ideamine envoy-config``: print the gateway's Envoy bootstrap.

``ideamine envoy-config [--settings FILE] > envoy.yaml`` renders exactly what
``ideamine serve gateway`` runs; ``--validate`` also has the bundled Envoy check it.
The environment applies as for the server (``IDEAMINE_JWT_*``, ``IDEAMINE_ORCHESTRATOR_ADDR``);
``--no-env`` renders the file as written (the Kubernetes ConfigMap does that).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gateway import serve as gateway_serve
from gateway.config import load_settings
from gateway.envoy import render_yaml

__all__ = ["SERVE_HELP", "add_serve_arguments", "register", "serve_gateway"]

#: help line of ``ideamine serve gateway`` (an entry of ``ideamine.cli.serve_cmd.SERVERS``)
SERVE_HELP = "the REST gateway: render envoy.yaml, validate it, exec the bundled Envoy"


def register(sub: Any) -> None:
    """Add ``envoy-config`` to the ``ideamine`` command."""
    p = sub.add_parser("envoy-config", help="print the Envoy config of the REST gateway (YAML)")
    p.add_argument("--settings", type=Path, help="gateway settings file (default: the shipped default.yaml)")
    p.add_argument("--no-env", action="store_true", help="ignore IDEAMINE_* environment overrides")
    p.add_argument("--validate", action="store_true", help="also run envoy --mode validate on the result")
    p.set_defaults(handler=_envoy_config)


def _envoy_config(args: argparse.Namespace) -> int:
    settings = load_settings(args.settings, env={} if args.no_env else None)
    text = render_yaml(settings)
    if args.validate:
        path = gateway_serve.write_config(settings)
        try:
            gateway_serve.validate(path)
        finally:
            path.unlink(missing_ok=True)
    sys.stdout.write(text)
    return 0


def serve_gateway(args: argparse.Namespace) -> int:
    """``ideamine serve gateway``: render, validate, exec Envoy (see :mod:`gateway.serve`)."""
    return gateway_serve.main(args)


#: argument set of ``ideamine serve gateway``
add_serve_arguments = gateway_serve.add_arguments
