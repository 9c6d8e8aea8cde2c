"""The client credentials grant (RFC 6749 §4.4): a system gets an access token for itself,
with a secret or a private_key_jwt assertion, for registered API scopes only."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx

from gateway.runtime import Runtime
from tests.gateway.tokens.support import Kit, error_of, key_client, post_token, secret_client

API: dict[str, Any] = {
    "grant_types": ["client_credentials"],
    "redirect_uris": [],
    "scope": "permits fines",
}


def _payload(token: str) -> dict[str, object]:
    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def _header(token: str) -> dict[str, object]:
    part = token.split(".")[0]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


async def _check_system_token(response: httpx.Response, kit: Kit, runtime: Runtime) -> None:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer" and body["scope"] == "permits fines"
    claims = _payload(body["access_token"])
    assert _header(body["access_token"])["typ"] == "at+jwt"
    assert claims["sub"] == kit.client_id and claims["client_id"] == kit.client_id
    assert claims["aud"] == runtime.settings.issuer and claims["iss"] == runtime.settings.issuer
    assert isinstance(claims["exp"], int) and isinstance(claims["iat"], int)
    assert claims["exp"] - claims["iat"] == runtime.settings.access_token_lifetime_seconds
    assert "auth_time" not in claims and claims["jti"]


async def test_a_system_with_a_secret_gets_an_access_token_for_itself(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await secret_client(runtime, organisation_id, **API)
    response = await post_token(http, runtime, kit, {"grant_type": "client_credentials"})
    await _check_system_token(response, kit, runtime)


async def test_a_system_with_private_key_jwt_gets_an_access_token_for_itself(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await key_client(runtime, organisation_id, **API)
    response = await post_token(http, runtime, kit, {"grant_type": "client_credentials"})
    await _check_system_token(response, kit, runtime)


async def test_a_system_may_ask_for_fewer_scopes(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await secret_client(runtime, organisation_id, **API)
    form = {"grant_type": "client_credentials", "scope": "fines"}
    response = await post_token(http, runtime, kit, form)
    assert response.json()["scope"] == "fines"


async def test_an_unregistered_scope_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await secret_client(runtime, organisation_id, **API)
    form = {"grant_type": "client_credentials", "scope": "permits benefits"}
    response = await post_token(http, runtime, kit, form)
    assert response.status_code == 400 and error_of(response) == "invalid_scope"


async def test_openid_cannot_be_asked_for_without_a_person(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await secret_client(runtime, organisation_id, **{**API, "scope": "openid permits"})
    form = {"grant_type": "client_credentials", "scope": "openid"}
    assert error_of(await post_token(http, runtime, kit, form)) == "invalid_scope"
    default = await post_token(http, runtime, kit, {"grant_type": "client_credentials"})
    assert default.json()["scope"] == "permits"


async def test_only_a_registered_resource_can_be_asked_for_as_the_audience(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await secret_client(runtime, organisation_id, **API)
    form = {"grant_type": "client_credentials", "resource": "https://api.unknown.example"}
    response = await post_token(http, runtime, kit, form)
    assert response.status_code == 400 and error_of(response) == "invalid_target"
    form["resource"] = runtime.settings.issuer
    assert (await post_token(http, runtime, kit, form)).status_code == 200
