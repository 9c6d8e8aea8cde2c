"""The admin API needs a bearer admin token and answers RFC 9457 problems without one."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer gcadm_forged"}, {"Authorization": "Basic YWRtaW46YWRtaW4="}],
    ids=["none", "forged", "wrong-scheme"],
)
async def test_admin_routes_refuse_without_a_valid_token(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await http.get("/admin/v1/tokens", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert (
        "govconnect admin create-token" in response.json()["detail"]
        or "not valid" in response.json()["detail"]
    )


async def test_admin_token_lists_tokens_without_secrets(
    http: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await http.get("/admin/v1/tokens", headers=admin_headers)
    assert response.status_code == 200
    tokens = response.json()["tokens"]
    assert any(t["name"] == "pytest" for t in tokens)
    assert admin_headers["Authorization"].split()[1] not in response.text


async def test_audit_entries_are_readable_by_admins(
    http: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await http.get("/admin/v1/audit", headers=admin_headers, params={"limit": 5})
    assert response.status_code == 200
    entries = response.json()["entries"]
    assert entries and {"seq", "hash", "prev", "actor", "action"} <= entries[0].keys()
