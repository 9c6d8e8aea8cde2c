"""``govconnect clients`` as an operator runs it: a real subprocess against the test store,
JSON for scripts, and a clear refusal (exit 2) for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.core.settings import Settings
from gateway.runtime import Runtime
from tests.gateway.clients.support import new_organisation, public_jwk
from tests.support.servers import gateway_env, run_cli


@pytest.fixture
def env(tmp_path: Path, settings: Settings, redis_url: str, pki_dir: Path) -> dict[str, str]:
    """The CLI's environment: the test store and keys, its own data folder."""
    extra = {"GOVCONNECT_REDIS_URL": redis_url, "GOVCONNECT_PKI_DIR": str(pki_dir)}
    if settings.redis_cluster:
        extra["GOVCONNECT_REDIS_CLUSTER"] = "1"
    return gateway_env(tmp_path, extra)


async def test_add_prints_json_with_the_id_and_the_secret_once(
    runtime: Runtime, env: dict[str, str], tmp_path: Path
) -> None:
    org_id = await new_organisation(runtime)
    added = run_cli(
        env,
        tmp_path,
        "clients", "add",
        "--name", "Anytown Council: pay a parking fine",
        "--org", org_id,
        "--redirect-uri", "https://fines.anytown.example/callback",
        "--auth-method", "client_secret_basic",
        "--json",
    )  # fmt: skip
    created = json.loads(added.stdout)
    assert created["client_id"].startswith("cli_") and created["client_secret"]
    assert created["sector_identifier"] == "fines.anytown.example"

    shown = run_cli(env, tmp_path, "clients", "show", created["client_id"], "--json")
    assert created["client_secret"] not in shown.stdout and "secret_hash" not in shown.stdout
    client = await runtime.clients.authenticate_secret(
        created["client_id"], created["client_secret"]
    )
    assert client.client_name == "Anytown Council: pay a parking fine"


async def test_a_key_client_is_added_from_a_jwks_file_and_managed(
    runtime: Runtime, env: dict[str, str], tmp_path: Path
) -> None:
    org_id = await new_organisation(runtime)
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [public_jwk("council-2026")]}), encoding="utf-8")
    added = run_cli(
        env,
        tmp_path,
        "clients", "add",
        "--name", "Anytown Council: housing benefit",
        "--org", org_id,
        "--redirect-uri", "http://127.0.0.1:8080/callback",
        "--jwks-file", str(jwks_file),
        "--min-level", "P2.Cl.Cm",
        "--json",
    )  # fmt: skip
    created = json.loads(added.stdout)
    assert "client_secret" not in created
    assert created["min_level"] == "Cl.Cm.P2"
    client_id = created["client_id"]

    updated = run_cli(
        env, tmp_path, "clients", "update", client_id, "--scope", "openid email", "--json"
    )
    assert json.loads(updated.stdout)["scope"] == "openid email"
    run_cli(env, tmp_path, "clients", "disable", client_id)
    assert (await runtime.clients.get(client_id)).disabled
    listed = run_cli(env, tmp_path, "clients", "list")
    assert f"{client_id}  disabled" in listed.stdout
    refused = run_cli(env, tmp_path, "clients", "rotate-secret", client_id, check=False)
    assert refused.returncode == 1 and "has no secret" in refused.stderr


async def test_a_bad_redirect_uri_exits_2_with_a_clear_message(
    runtime: Runtime, env: dict[str, str], tmp_path: Path
) -> None:
    org_id = await new_organisation(runtime)
    result = run_cli(
        env,
        tmp_path,
        "clients", "add",
        "--name", "Anytown Council",
        "--org", org_id,
        "--redirect-uri", "http://council.example/cb",
        "--jwks-file", str(_jwks_file(tmp_path)),
        "--json",
        check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip() == (
        "error: redirect_uris[0] 'http://council.example/cb' must use https (http is allowed "
        "only on loopback hosts: 127.0.0.1, [::1] or localhost)"
    )


async def test_an_unknown_client_id_exits_1_naming_the_id(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = run_cli(env, tmp_path, "clients", "show", "cli_" + "N" * 22, check=False)
    assert result.returncode == 1
    assert "No client has the id 'cli_NNNN" in result.stderr


def _jwks_file(directory: Path) -> Path:
    path = directory / "jwks.json"
    path.write_text(json.dumps({"keys": [public_jwk()]}), encoding="utf-8")
    return path
