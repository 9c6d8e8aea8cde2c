"""An acknowledged registration survives a SIGKILLed gateway on the embedded store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.servers import GatewayProcess, free_port, gateway_env, run_cli


@pytest.fixture
def embedded_gateway(tmp_path: Path) -> Iterator[GatewayProcess]:
    """``govconnect serve`` with no Redis URL: it runs its own embedded Redis."""
    env = gateway_env(tmp_path)
    run_cli(env, tmp_path, "init")
    gateway = GatewayProcess(env, tmp_path, free_port())
    gateway.start()
    try:
        yield gateway
    finally:
        gateway.stop()


def test_readyz_reports_the_embedded_store_with_aof_always(
    embedded_gateway: GatewayProcess,
) -> None:
    store = httpx.get(f"{embedded_gateway.base_url}/readyz").json()["store"]
    assert store["kind"] == "embedded"
    assert store["aof"] == "always"


def test_organisation_and_client_survive_sigkill(embedded_gateway: GatewayProcess) -> None:
    created = json.loads(
        embedded_gateway.cli("admin", "create-token", "--name", "t", "--json").stdout
    )
    headers = {"Authorization": f"Bearer {created['token']}"}
    base = embedded_gateway.base_url
    org = httpx.post(
        f"{base}/admin/v1/organisations",
        headers=headers,
        json={
            "name": "Durable District Council",
            "kind": "council",
            "code": "E07000001",
            "contact_email": "it@durable.example",
        },
    )
    assert org.status_code == 201, org.text
    org_id = org.json()["id"]
    client = httpx.post(
        f"{base}/admin/v1/clients",
        headers=headers,
        json={
            "client_name": "Durable website",
            "organisation_id": org_id,
            "redirect_uris": ["https://durable.example/callback"],
            "token_endpoint_auth_method": "client_secret_basic",
        },
    )
    assert client.status_code == 201, client.text
    client_id = client.json()["client_id"]
    before = (
        httpx.get(f"{base}/admin/v1/organisations/{org_id}", headers=headers).json(),
        httpx.get(f"{base}/admin/v1/clients/{client_id}", headers=headers).json(),
    )

    embedded_gateway.kill()
    embedded_gateway.start()

    after = (
        httpx.get(f"{base}/admin/v1/organisations/{org_id}", headers=headers).json(),
        httpx.get(f"{base}/admin/v1/clients/{client_id}", headers=headers).json(),
    )
    assert after == before
    assert after[0]["name"] == "Durable District Council"
    assert after[1]["redirect_uris"] == ["https://durable.example/callback"]
