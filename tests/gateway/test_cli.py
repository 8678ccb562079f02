"""``ideamine envoy-config``, ``ideamine serve gateway`` and ``python -m gateway`` as a user runs them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gateway.config import load_settings, settings_file
from gateway.envoy import render_yaml
from ideamine.cli.main import main
from tests.gateway.support import Keys, gateway_settings, http, wait_for

BAD_SETTINGS = "listen: 0.0.0.0:8080\nrate_limit: {max_tokens: -1}\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_envoy_config_prints_the_rendered_bootstrap(capsys: pytest.CaptureFixture[str]) -> None:
    production = settings_file("production")
    assert main(["envoy-config", "--settings", str(production), "--no-env", "--validate"]) == 0
    out = capsys.readouterr().out
    assert out == render_yaml(load_settings(production, env={}))
    assert yaml.safe_load(out)["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"


def test_envoy_config_applies_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDEAMINE_JWT_HS256_SECRET", "local-secret-for-the-cli-test")
    monkeypatch.setenv("IDEAMINE_ORCHESTRATOR_ADDR", "10.9.8.7:50051")
    assert main(["envoy-config"]) == 0
    config = yaml.safe_load(capsys.readouterr().out)
    (cluster,) = [c for c in config["static_resources"]["clusters"] if c["name"] == "orchestrator"]
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert endpoint["address"]["socket_address"] == {"address": "10.9.8.7", "port_value": 50051}


@pytest.mark.parametrize("command", [["envoy-config"], ["serve", "gateway"]])
def test_bad_settings_exit_2_with_one_line(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_SETTINGS)
    assert main([*command, "--settings", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ideamine: error: settings file") and "rate_limit.max_tokens" in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_python_m_gateway_exits_2_on_bad_settings(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_SETTINGS)
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "--settings", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.startswith("gateway: error:") and "Traceback" not in done.stderr


def test_serve_gateway_becomes_a_serving_envoy(tmp_path: Path, keys: Keys) -> None:
    port, admin = _free_port(), _free_port()
    settings = gateway_settings(tmp_path, upstream="127.0.0.1:1", jwks=keys.jwks(), listen=f"127.0.0.1:{port}",
                                admin=f"127.0.0.1:{admin}")  # fmt: skip
    settings_path = tmp_path / "gateway.yaml"  # written by gateway_settings
    config = tmp_path / "envoy.yaml"
    argv = [str(Path(sys.executable).parent / "ideamine"), "serve", "gateway", "--settings", str(settings_path),
            "--config-out", str(config), "--base-id", str(20_000 + os.getpid() % 20_000), "--log-level", "warning"]  # fmt: skip
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:

        def ready() -> bool:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                return http(admin, "GET", "/ready", timeout=2).status == 200
            except OSError:
                return False

        wait_for(ready, timeout=30, what="ideamine serve gateway to be ready")
        assert http(port, "GET", "/healthz").status == 200
        assert yaml.safe_load(config.read_text()) == yaml.safe_load(render_yaml(settings))
        assert http(port, "GET", "/v1/phases").status == 401
    finally:
        proc.send_signal(signal.SIGTERM)  # the same pid: serve exec'd Envoy
        proc.wait(30)
        log.close()
