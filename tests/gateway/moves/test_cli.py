"""``govconnect moves hub`` and ``moves register`` as an operator runs them: a real process
on the test store, ``--json`` for scripts."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from gateway.core.settings import Settings
from gateway.delivery.models import NewService
from gateway.runtime import Runtime
from tests.conftest import TEST_ACTOR
from tests.gateway.clients.support import new_organisation
from tests.gateway.moves.support import address_schema
from tests.support.servers import gateway_env, run_cli


@pytest.fixture
def cli_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
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


async def test_hub_sets_up_once_and_its_client_can_never_get_a_token(
    cli_env: dict[str, str], tmp_path: Path, runtime: Runtime
) -> None:
    first = _json(cli_env, tmp_path, "moves", "hub", "--contact-email", "tuo@example.gov.uk")
    again = _json(cli_env, tmp_path, "moves", "hub", "--contact-email", "tuo@example.gov.uk")
    assert first == again
    client = await runtime.clients.get(first["client"])
    assert client.disabled and client.organisation_id == first["organisation"]


async def test_register_routes_a_change_of_address_service_from_the_hub(
    cli_env: dict[str, str], tmp_path: Path, runtime: Runtime
) -> None:
    hub = _json(cli_env, tmp_path, "moves", "hub", "--contact-email", "tuo@example.gov.uk")
    organisation = await new_organisation(runtime)
    name = f"change-of-address-{secrets.token_hex(4)}"
    await runtime.delivery.registry.add_service(
        NewService.model_validate(
            {
                "name": name,
                "version": "1",
                "title": "Update records",
                "schema": address_schema("new_address"),
            }
        ),
        TEST_ACTOR,
    )
    rule = _json(
        cli_env, tmp_path, "moves", "register", "--organisation", organisation, "--service", name
    )
    assert (rule["sender"], rule["service"], rule["recipient"]) == (
        hub["organisation"],
        name,
        organisation,
    )

    refused = run_cli(
        cli_env,
        tmp_path,
        "moves",
        "register",
        "--organisation",
        organisation,
        "--service",
        "permit",
        check=False,
    )
    assert refused.returncode != 0 and "change-of-address" in refused.stderr
