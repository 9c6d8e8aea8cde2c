"""``govconnect messaging`` and ``govconnect keys rotate-kek`` as an operator runs them: a
real process on the test store, ``--json`` for scripts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.core.settings import Settings
from gateway.runtime import Runtime
from messaging.crypto import wrapped_kid
from messaging.store import message_key
from tests.gateway.clients.support import new_organisation
from tests.messaging.support import new_citizen, new_council, write_to
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


async def test_an_operator_adds_a_team_and_puts_staff_on_it(
    runtime: Runtime, cli_env: dict[str, str], tmp_path: Path
) -> None:
    org_id = await new_organisation(runtime)
    staff = await new_citizen(runtime)
    team = _json(
        cli_env,
        tmp_path,
        *("messaging", "teams", "add", "--organisation", org_id, "--name", "Housing team"),
        *("--service", "housing", "--view-days", "30", "--record-days", "60"),
    )
    assert team["organisation_id"] == org_id and team["view_days"] == 30
    listed = _json(cli_env, tmp_path, "messaging", "teams", "list")
    assert team["id"] in [t["id"] for t in listed]
    added = _json(
        cli_env,
        tmp_path,
        "messaging",
        "staff",
        "add",
        "--team",
        team["id"],
        "--account",
        staff.email,
    )
    assert added["account_id"] == staff.id
    assert [t.id for t in await runtime.messaging.staff_teams(staff.id)] == [team["id"]]
    removed = _json(
        cli_env,
        tmp_path,
        "messaging",
        "staff",
        "remove",
        "--team",
        team["id"],
        "--account",
        staff.id,
    )
    assert removed["removed"] is True
    assert await runtime.messaging.staff_teams(staff.id) == []


async def test_rotate_kek_rewraps_every_data_key_and_messages_still_open(
    runtime: Runtime, cli_env: dict[str, str], tmp_path: Path
) -> None:
    kit, citizen = await new_council(runtime), await new_citizen(runtime)
    sent = await write_to(runtime, kit, citizen, "kept across rotation")
    name = message_key(sent.conversation.id, sent.message.id)
    body_before = await runtime.redis.hget(name, "body")
    result = _json(cli_env, tmp_path, "keys", "rotate-kek")
    assert result["rewrapped"] >= 1
    wrapped, body = await runtime.redis.hmget(name, ["key", "body"])
    assert wrapped_kid(str(wrapped)) == result["kek"] and body == body_before
    access = await runtime.messaging.as_council(kit.council, sent.conversation.id)
    thread = await runtime.messaging.open(access, None)
    assert thread.messages[0].body == "kept across rotation"
