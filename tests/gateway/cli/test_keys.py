"""``govconnect keys list`` and ``keys rotate`` print JSON a script can parse, as a process."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.core.clock import SystemClock
from gateway.signing.services import KeyRing
from gateway.signing.store import KEY_FILE_NAME
from tests.support.servers import gateway_env, run_cli


def test_keys_rotate_and_list_print_parseable_json(tmp_path: Path) -> None:
    """The rotation is written to the file a running gateway's ring reads."""
    gateway_ring = KeyRing(
        tmp_path / "pki" / KEY_FILE_NAME, SystemClock(), 86_400, recheck_seconds=0
    )
    gateway_ring.initialise()
    before = {k.kid: k.state.value for k in gateway_ring.all_keys()}
    env = gateway_env(tmp_path)

    rotated = json.loads(run_cli(env, tmp_path, "keys", "rotate", "--json").stdout)
    assert set(rotated) == {"current", "next", "retiring", "archived"}
    assert {before[kid] for kid in rotated["current"]} == {"next"}
    assert {before[kid] for kid in rotated["retiring"]} == {"current"}
    assert rotated["archived"] == []
    assert gateway_ring.current().kid in rotated["current"]

    listed = json.loads(run_cli(env, tmp_path, "keys", "list", "--json").stdout)
    assert [set(entry) for entry in listed] == [
        {"kid", "family", "state", "created_at", "retired_at"}
    ] * 6
    states = {entry["kid"]: entry["state"] for entry in listed}
    assert {states[kid] for kid in rotated["retiring"]} == {"retiring"}
    assert {states[kid] for kid in rotated["next"]} == {"next"}
    assert all(entry["retired_at"] for entry in listed if entry["state"] == "retiring")

    audit = json.loads(run_cli(env, tmp_path, "audit", "list", "--json").stdout)
    assert [e["action"] for e in audit] == ["signing-keys.rotated"]
    assert audit[0]["details"]["current"] == rotated["current"]


def test_keys_commands_before_init_fail_with_advice(tmp_path: Path) -> None:
    env = gateway_env(tmp_path)
    for command in ("list", "rotate"):
        result = run_cli(env, tmp_path, "keys", command, "--json", check=False)
        assert result.returncode == 1
        assert "govconnect init" in result.stderr
        assert result.stdout == ""
