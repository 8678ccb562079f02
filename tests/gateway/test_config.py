"""Settings files and the environment: defaults, overrides, and clear errors for bad input."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.config import Address, GatewaySettings, JwtSettings, hs256_jwks, load_settings, settings_file
from ideamine.errors import InvalidInput

SECRET_ENV = {"IDEAMINE_JWT_HS256_SECRET": "local-secret"}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.yaml"
    path.write_text(text)
    return path


def test_default_yaml_spells_out_the_built_in_defaults() -> None:
    settings = load_settings(settings_file("default"), env=SECRET_ENV)
    expected = GatewaySettings()
    assert replace(settings, jwt=replace(settings.jwt, jwks_inline=None)) == expected


def test_an_empty_file_means_the_defaults(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, ""), env=SECRET_ENV)
    assert settings.listen == Address("0.0.0.0", 8080) and settings.admin == Address("127.0.0.1", 9901)
    assert settings.upstream.addresses == (Address("127.0.0.1", 50051),)


def test_production_settings_fetch_keys_remotely_without_any_environment() -> None:
    settings = load_settings(settings_file("production"), env={})
    assert settings.jwt.source == "url"
    assert settings.jwt.jwks_url and settings.jwt.jwks_url.startswith("https://")
    assert settings.upstream.addresses[0].host.endswith(".svc.cluster.local")


def test_environment_overrides_the_file() -> None:
    env = {
        "IDEAMINE_ORCHESTRATOR_ADDR": "10.0.0.1:50051, 10.0.0.2:50052",
        "IDEAMINE_JWT_JWKS_URL": "http://idp.local:8000/jwks",
        "IDEAMINE_JWT_ISSUER": "https://idp.local",
        "IDEAMINE_JWT_AUDIENCE": "api-a,api-b",
    }
    settings = load_settings(settings_file("production"), env=env)
    assert settings.upstream.addresses == (Address("10.0.0.1", 50051), Address("10.0.0.2", 50052))
    assert settings.jwt.jwks_url == "http://idp.local:8000/jwks"
    assert (settings.jwt.issuer, settings.jwt.audiences) == ("https://idp.local", ("api-a", "api-b"))


def test_an_environment_key_source_replaces_the_files(tmp_path: Path) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(hs256_jwks("s" * 32))
    settings = load_settings(settings_file("production"), env={"IDEAMINE_JWT_JWKS_FILE": str(jwks)})
    assert settings.jwt.source == "file" and settings.jwt.jwks_url is None


def test_hs256_secret_becomes_a_symmetric_jwk() -> None:
    settings = load_settings(settings_file("default"), env=SECRET_ENV)
    (key,) = json.loads(settings.jwt.jwks_inline or "")["keys"]
    assert (key["kty"], key["alg"]) == ("oct", "HS256")
    assert key["k"] == "bG9jYWwtc2VjcmV0"  # base64url("local-secret"), unpadded


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("listen: [1, 2\n", "not valid YAML"),
        ("lisen: 0.0.0.0:8080\n", "'lisen' was unexpected"),
        ("upstream: {addresses: []}\n", "upstream.addresses"),
        ("upstream: {addresses: [no-port]}\n", "upstream.addresses.0"),
        ("rate_limit: {max_tokens: 0}\n", "rate_limit.max_tokens"),
        ("stream_format: xml\n", "stream_format"),
        ("cors: {allow_origins: [example.com]}\n", "cors.allow_origins.0"),
        ("admin: 0.0.0.0:9901\n", "not a loopback address"),
        ("jwt: {jwks_inline: 'not json'}\n", "not a JWKS"),
        ("jwt: {jwks_inline: '{\"keys\": []}'}\n", "not a JWKS"),
        ("jwt: {jwks_file: /nonexistent/jwks.json}\n", "does not exist"),
        ("- a list\n", "(top level)"),
    ],
)
def test_bad_settings_are_clear_errors(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as err:
        load_settings(
            _write(tmp_path, text), env={"IDEAMINE_JWT_HS256_SECRET": "x"} if "jwt" not in text else {}
        )
    assert fragment in err.value.message


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read settings file"):
        load_settings(tmp_path / "nope.yaml", env=SECRET_ENV)


def test_exactly_one_key_source(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="exactly one key source"):
        load_settings(settings_file("default"), env={})
    with pytest.raises(InvalidInput, match="set only one of"):
        load_settings(settings_file("default"), env={**SECRET_ENV, "IDEAMINE_JWT_JWKS_URL": "https://x/jwks"})
    with pytest.raises(InvalidInput, match="exactly one key source"):
        _ = JwtSettings(jwks_url="https://x/j", jwks_inline="{}").source


@pytest.mark.parametrize("value", ["nohost", "host:", "host:99999", ":80"])
def test_bad_orchestrator_addresses_are_rejected(value: str) -> None:
    with pytest.raises(InvalidInput, match="IDEAMINE_ORCHESTRATOR_ADDR"):
        load_settings(settings_file("default"), env={**SECRET_ENV, "IDEAMINE_ORCHESTRATOR_ADDR": value})


def test_admin_must_be_loopback() -> None:
    with pytest.raises(InvalidInput, match="loopback"):
        GatewaySettings(admin=Address("10.1.2.3", 9901))
    assert GatewaySettings(admin=Address("::1", 9901)).admin.is_loopback
    assert GatewaySettings(admin=Address("localhost", 9901)).admin.is_loopback
