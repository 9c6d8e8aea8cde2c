"""``govconnect init``: idempotent, demo data once, and never demo data in production."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from tests.support.servers import gateway_env, run_cli


def test_init_demo_seeds_once_and_keeps_secrets_private(tmp_path: Path) -> None:
    env = gateway_env(tmp_path)
    first = json.loads(run_cli(env, tmp_path, "init", "--demo", "--json").stdout)
    assert set(first["created"]) == {
        "root-ca.pem",
        "root-ca.key",
        "orgs-ca.pem",
        "orgs-ca.key",
        "tls.pem",
        "tls.key",
    }
    assert first["signing_keys_created"] is True
    demo = first["demo"]
    assert demo["seeded"] is True
    assert demo["website_client_id"].startswith("cli_") and demo["admin_token"].startswith("gcadm_")

    credentials = Path(demo["credentials_file"])
    if not credentials.is_absolute():
        credentials = tmp_path / credentials
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert (
        json.loads(credentials.read_text())["website_client_secret"]
        == demo["website_client_secret"]
    )

    second = json.loads(run_cli(env, tmp_path, "init", "--demo", "--json").stdout)
    assert second["created"] == [] and second["signing_keys_created"] is False
    assert second["demo"]["seeded"] is False

    orgs = json.loads(run_cli(env, tmp_path, "orgs", "list", "--json").stdout)
    assert sorted(o["name"] for o in orgs) == [
        "Demo Borough Council",
        "Department for Demonstrations",
    ]
    verified = json.loads(run_cli(env, tmp_path, "audit", "verify", "--json").stdout)
    assert verified["ok"] and verified["entries"] >= 5


def test_init_demo_is_refused_in_production(tmp_path: Path) -> None:
    env = gateway_env(
        tmp_path, {"GOVCONNECT_ENV": "production", "GOVCONNECT_ISSUER": "https://gw.example.gov.uk"}
    )
    result = run_cli(env, tmp_path, "init", "--demo", check=False)
    assert result.returncode == 1
    assert "refused in production" in result.stderr
    assert not (tmp_path / "var" / "demo-credentials.json").exists()


def test_production_refuses_to_serve_a_store_seeded_with_demo_data(tmp_path: Path) -> None:
    run_cli(gateway_env(tmp_path), tmp_path, "init", "--demo")
    production = gateway_env(
        tmp_path,
        {
            "GOVCONNECT_ENV": "production",
            "GOVCONNECT_ISSUER": "https://gw.example.gov.uk",
            "GOVCONNECT_NOTIFY_API_KEY": "live-key",
        },
    )
    result = run_cli(production, tmp_path, "orgs", "list", check=False)
    assert result.returncode == 1
    assert "demo data" in result.stderr


def test_serve_refuses_development_shortcuts_in_production(tmp_path: Path) -> None:
    env = gateway_env(
        tmp_path, {"GOVCONNECT_ENV": "production", "GOVCONNECT_ISSUER": "http://gw.example.gov.uk"}
    )
    result = run_cli(env, tmp_path, "serve", check=False)
    assert result.returncode == 1
    assert "refusing to start in production" in result.stderr
