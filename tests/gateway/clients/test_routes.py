"""The clients admin API over real HTTP: admin token required, RFC 9457 problems for every
refusal, the secret returned once and its hash never."""

from __future__ import annotations

import httpx
import pytest

from tests.gateway.clients.support import registration, secret_registration

PROBLEM = "application/problem+json"
SOME_ID = "cli_" + "A" * 22


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/admin/v1/clients"),
        ("GET", "/admin/v1/clients"),
        ("GET", f"/admin/v1/clients/{SOME_ID}"),
        ("PATCH", f"/admin/v1/clients/{SOME_ID}"),
        ("POST", f"/admin/v1/clients/{SOME_ID}/disable"),
        ("POST", f"/admin/v1/clients/{SOME_ID}/enable"),
        ("POST", f"/admin/v1/clients/{SOME_ID}/rotate-secret"),
    ],
)
async def test_every_client_route_needs_an_admin_token(
    http: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await http.request(method, path, json={})
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_registering_a_secret_client_returns_the_secret_once(
    http: httpx.AsyncClient, admin_headers: dict[str, str], organisation_id: str
) -> None:
    created = await http.post(
        "/admin/v1/clients", json=secret_registration(organisation_id), headers=admin_headers
    )
    assert created.status_code == 201
    body = created.json()
    secret = body["client_secret"]
    assert body["client_id"].startswith("cli_") and "secret_hash" not in body
    shown = await http.get(f"/admin/v1/clients/{body['client_id']}", headers=admin_headers)
    listed = await http.get("/admin/v1/clients", headers=admin_headers)
    for response in (shown, listed):
        assert response.status_code == 200
        assert secret not in response.text and "secret_hash" not in response.text
    assert body["client_id"] in {c["client_id"] for c in listed.json()["clients"]}


async def test_a_key_client_gets_no_secret(
    http: httpx.AsyncClient, admin_headers: dict[str, str], organisation_id: str
) -> None:
    created = await http.post(
        "/admin/v1/clients", json=registration(organisation_id), headers=admin_headers
    )
    assert created.status_code == 201
    assert "client_secret" not in created.json()


async def test_an_invalid_registration_is_a_400_problem_naming_the_field(
    http: httpx.AsyncClient, admin_headers: dict[str, str], organisation_id: str
) -> None:
    response = await http.post(
        "/admin/v1/clients",
        json=registration(organisation_id, redirect_uris=["http://council.example/cb"]),
        headers=admin_headers,
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"] == "urn:govconnect:problem:invalid-client-registration"
    assert problem["detail"].startswith(
        "redirect_uris[0] 'http://council.example/cb' must use https"
    )
    assert problem["errors"][0]["location"] == "redirect_uris"


async def test_an_unknown_organisation_is_a_400_problem(
    http: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await http.post(
        "/admin/v1/clients", json=registration("org_" + "Q" * 22), headers=admin_headers
    )
    assert response.status_code == 400
    assert "names no registered organisation" in response.json()["detail"]


async def test_a_body_that_is_not_a_json_object_is_a_422_problem(
    http: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await http.post(
        "/admin/v1/clients", json=["not", "an", "object"], headers=admin_headers
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["detail"].startswith("The request is not valid")


@pytest.mark.parametrize("client_id", [SOME_ID, "junk"])
async def test_an_unknown_client_is_a_404_problem(
    http: httpx.AsyncClient, admin_headers: dict[str, str], client_id: str
) -> None:
    response = await http.get(f"/admin/v1/clients/{client_id}", headers=admin_headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "urn:govconnect:problem:client-not-found"


async def test_patch_disable_enable_and_rotate_through_the_api(
    http: httpx.AsyncClient, admin_headers: dict[str, str], organisation_id: str
) -> None:
    created = await http.post(
        "/admin/v1/clients", json=secret_registration(organisation_id), headers=admin_headers
    )
    client_id, first_secret = created.json()["client_id"], created.json()["client_secret"]
    base = f"/admin/v1/clients/{client_id}"

    refused = await http.patch(base, json={"scope": "openid  email"}, headers=admin_headers)
    assert refused.status_code == 400 and "single spaces" in refused.json()["detail"]
    patched = await http.patch(base, json={"scope": "openid email"}, headers=admin_headers)
    assert patched.status_code == 200 and patched.json()["scope"] == "openid email"
    assert "client_secret" not in patched.json()

    disabled = await http.post(f"{base}/disable", headers=admin_headers)
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    enabled = await http.post(f"{base}/enable", headers=admin_headers)
    assert enabled.status_code == 200 and enabled.json()["disabled"] is False

    rotated = await http.post(f"{base}/rotate-secret", headers=admin_headers)
    assert rotated.status_code == 200
    assert rotated.json()["client_secret"] not in {first_secret, ""}


async def test_the_openapi_document_describes_the_registration_body(
    http: httpx.AsyncClient,
) -> None:
    document = (await http.get("/openapi.json")).json()
    body = document["paths"]["/admin/v1/clients"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    assert "redirect_uris" in schema["properties"]
    assert "$ref" not in str(schema)
