"""``govconnect services``, ``routes``, ``recipients``, ``submissions`` and ``verify`` as an
operator runs them: a real process on the test store, ``--json`` for scripts."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.core.settings import Settings
from gateway.delivery.envelope import b64url, unb64url
from gateway.runtime import Runtime
from tests.gateway.clients.support import new_organisation
from tests.gateway.delivery.support import SCHEMA, exchange, submit
from tests.support.servers import gateway_env, run_cli


@pytest.fixture
def cli_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    """The CLI's environment: the test Redis and the session's PKI folder."""
    assert settings.redis_url is not None
    extra = {
        "GOVCONNECT_REDIS_URL": settings.redis_url,
        "GOVCONNECT_PKI_DIR": str(settings.pki_dir),
    }
    if settings.redis_cluster:
        extra["GOVCONNECT_REDIS_CLUSTER"] = "1"
    return gateway_env(tmp_path, extra)


def _json(env: dict[str, str], cwd: Path, *args: str) -> Any:
    return json.loads(run_cli(env, cwd, *args, "--json").stdout)


async def test_services_add_list_and_show_print_json(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA))
    name = f"cli-permit-{secrets.token_hex(3)}"
    added = _json(
        cli_env,
        tmp_path,
        *("services", "add", "--name", name, "--version", "1", "--title", "Permit"),
        *("--schema", str(schema), "--min-level", "Cl.Cm", "--retention-days", "30"),
        *("--attachment-type", "application/pdf", "--attachment-type", "image/png"),
        *("--max-attachments", "3", "--max-attachment-bytes", "100000"),
    )
    assert added["name"] == name and added["schema"] == SCHEMA and added["min_level"] == "Cl.Cm"
    assert added["attachment_types"] == ["application/pdf", "image/png"]
    assert added["max_attachments"] == 3 and added["max_attachment_bytes"] == 100000
    listed = _json(cli_env, tmp_path, "services", "list")
    assert name in {s["name"] for s in listed}
    shown = _json(cli_env, tmp_path, "services", "show", name, "1")
    assert shown["retention_days"] == 30


async def test_services_add_refuses_a_bad_schema_or_level_with_exit_2(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"type": 12}))
    args = ("services", "add", "--name", "cli-bad", "--version", "1", "--title", "Bad")
    result = run_cli(cli_env, tmp_path, *args, "--schema", str(schema), check=False)
    assert result.returncode == 2 and "JSON Schema" in result.stderr
    schema.write_text(json.dumps(SCHEMA))
    result = run_cli(
        cli_env, tmp_path, *args, "--schema", str(schema), "--min-level", "Q9", check=False
    )
    assert result.returncode == 2 and "min_level" in result.stderr
    result = run_cli(
        cli_env,
        tmp_path,
        *args,
        "--schema",
        str(schema),
        "--attachment-type",
        "app/x-exe",
        check=False,
    )
    assert result.returncode == 2 and "attachment_types" in result.stderr


async def test_routes_add_list_and_remove(
    cli_env: dict[str, str], tmp_path: Path, runtime: Runtime
) -> None:
    sender, recipient = await new_organisation(runtime), await new_organisation(runtime)
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA))
    name = f"cli-route-{secrets.token_hex(3)}"
    run_cli(
        cli_env,
        tmp_path,
        *("services", "add", "--name", name, "--version", "1", "--title", "T"),
        *("--schema", str(schema)),
    )
    rule = _json(
        cli_env,
        tmp_path,
        *("routes", "add", "--sender", sender, "--service", name, "--recipient", recipient),
    )
    assert rule["id"].startswith("rte_")
    assert rule in _json(cli_env, tmp_path, "routes", "list")
    assert await runtime.delivery.registry.allows(sender, name, recipient)
    removed = _json(cli_env, tmp_path, "routes", "remove", rule["id"])
    assert removed["id"] == rule["id"]
    assert not await runtime.delivery.registry.allows(sender, name, recipient)
    again = run_cli(cli_env, tmp_path, "routes", "remove", rule["id"], check=False)
    assert again.returncode == 1


async def test_recipients_set_push_shows_the_secret_once_and_rotates_it(
    cli_env: dict[str, str], tmp_path: Path, runtime: Runtime
) -> None:
    org = await new_organisation(runtime)
    issued = _json(
        cli_env, tmp_path, "recipients", "set", org, "--push", "https://in.example/hooks"
    )
    assert issued["webhook_secret"].startswith("whsec_")
    shown = _json(cli_env, tmp_path, "recipients", "show", org)
    assert "webhook_secret" not in shown and shown["mode"] == "push"
    rotated = _json(cli_env, tmp_path, "recipients", "rotate-secret", org)
    assert rotated["webhook_secret"] != issued["webhook_secret"]
    assert len(rotated["secrets"]) == 2
    plain = run_cli(
        cli_env, tmp_path, "recipients", "set", org, "--push", "http://in.example/x", check=False
    )
    assert plain.returncode == 2 and "https" in plain.stderr


async def test_verify_checks_an_envelope_and_a_receipt_offline(
    cli_env: dict[str, str],
    tmp_path: Path,
    http: httpx.AsyncClient,
    runtime: Runtime,
    admin_headers: dict[str, str],
) -> None:
    ex = await exchange(http, runtime, admin_headers)
    answer = (await submit(http, ex.sender.headers, ex.request())).json()
    stored = await runtime.delivery.submissions.stored(answer["id"])
    assert stored is not None
    envelope = stored.envelope
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps((await http.get("/.well-known/jwks.json")).json()))
    good = tmp_path / "envelope.json"
    good.write_text(json.dumps(envelope))
    report = _json(cli_env, tmp_path, "verify", str(good), "--jwks", str(jwks))
    assert report["ok"] and report["kind"] == "envelope"
    assert report["payload_sha256"] == answer["payload_sha256"]
    receipt = tmp_path / "receipt.jwt"
    receipt.write_text(answer["receipt"])
    # Without --jwks the installation's own key ring is used.
    assert _json(cli_env, tmp_path, "verify", str(receipt))["kind"] == "receipt"
    raw = bytearray(unb64url(envelope["payload"]))
    raw[raw.index(b"Ada")] = ord("E")
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps({**envelope, "payload": b64url(bytes(raw))}))
    result = run_cli(cli_env, tmp_path, "verify", str(bad), "--jwks", str(jwks), check=False)
    assert result.returncode == 1 and "does not verify" in result.stderr
