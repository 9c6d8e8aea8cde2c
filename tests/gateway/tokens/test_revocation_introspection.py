"""Revocation (RFC 7009) and introspection (RFC 7662): a revoked refresh token ends its grant,
a revoked access token stops working, and introspection tells only entitled clients about
live tokens."""

from __future__ import annotations

import time

import httpx

from gateway.accounts.models import Account
from gateway.core.ids import new_id
from gateway.runtime import Runtime
from gateway.tokens.services import TokenService
from gateway.tokens.store import TokenStore
from tests.gateway.tokens.support import (
    Kit,
    error_of,
    exchange,
    issue_code,
    key_client,
    post_token,
    secret_client,
)


async def _session(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> tuple[Kit, dict[str, str]]:
    kit = await key_client(runtime, organisation_id)
    response = await exchange(http, runtime, kit, await issue_code(runtime, kit, account))
    assert response.status_code == 200, response.text
    return kit, response.json()


async def _introspect(
    http: httpx.AsyncClient, runtime: Runtime, kit: Kit, token: str, hint: str | None = None
) -> dict[str, object]:
    form = {"token": token, **({"token_type_hint": hint} if hint else {})}
    response = await post_token(http, runtime, kit, form, path="/introspect")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return dict(response.json())


async def _revoke(
    http: httpx.AsyncClient, runtime: Runtime, kit: Kit, token: str, hint: str | None = None
) -> None:
    form = {"token": token, **({"token_type_hint": hint} if hint else {})}
    response = await post_token(http, runtime, kit, form, path="/revoke")
    assert response.status_code == 200, response.text


async def _userinfo_status(http: httpx.AsyncClient, token: str) -> int:
    return (await http.get("/userinfo", headers={"Authorization": f"Bearer {token}"})).status_code


async def test_introspection_describes_a_live_access_token_to_its_client(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    kit, body = await _session(http, runtime, organisation_id, account)
    answer = await _introspect(http, runtime, kit, body["access_token"])
    assert answer["active"] is True and answer["token_type"] == "Bearer"
    assert answer["client_id"] == kit.client_id and answer["scope"] == "openid email"
    assert answer["sub"] == runtime.subjects.subject(kit.client.sector_identifier, account.id)
    assert answer["iss"] == runtime.settings.issuer and answer["amr"] == ["pwd", "otp"]
    assert isinstance(answer["exp"], int) and isinstance(answer["iat"], int)


async def test_introspection_describes_a_live_refresh_token_and_not_a_rotated_one(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    kit, body = await _session(http, runtime, organisation_id, account)
    answer = await _introspect(http, runtime, kit, body["refresh_token"], "refresh_token")
    assert answer["active"] is True and answer["token_type"] == "refresh_token"
    form = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    assert (await post_token(http, runtime, kit, form)).status_code == 200
    assert await _introspect(http, runtime, kit, body["refresh_token"]) == {"active": False}


async def test_introspection_shows_another_clients_token_as_inactive(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    _, body = await _session(http, runtime, organisation_id, account)
    stranger = await key_client(runtime, organisation_id)
    for token in (body["access_token"], body["refresh_token"]):
        assert await _introspect(http, runtime, stranger, token) == {"active": False}


async def test_introspection_shows_expired_and_unknown_tokens_as_inactive(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await key_client(runtime, organisation_id)
    now = int(time.time())
    expired = runtime.keys.sign(
        {
            "iss": runtime.settings.issuer,
            "sub": kit.client_id,
            "aud": runtime.settings.issuer,
            "client_id": kit.client_id,
            "iat": now - 600,
            "exp": now - 300,
            "jti": new_id("at"),
            "grant_id": new_id("grt"),
            "scope": "openid",
        },
        typ="at+jwt",
    )
    for token in (expired, "not-a-token", "a.b.c"):
        assert await _introspect(http, runtime, kit, token) == {"active": False}


async def test_an_id_token_is_not_accepted_as_an_access_token(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    kit, body = await _session(http, runtime, organisation_id, account)
    assert await _introspect(http, runtime, kit, body["id_token"]) == {"active": False}
    assert await _userinfo_status(http, body["id_token"]) == 401


async def test_revoking_a_refresh_token_ends_the_grant_and_its_access_tokens(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    kit, body = await _session(http, runtime, organisation_id, account)
    await _revoke(http, runtime, kit, body["refresh_token"], "refresh_token")
    assert await _userinfo_status(http, body["access_token"]) == 401
    form = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    assert error_of(await post_token(http, runtime, kit, form)) == "invalid_grant"
    assert await _introspect(http, runtime, kit, body["access_token"]) == {"active": False}


async def test_revoking_an_access_token_stops_it_but_leaves_the_grant(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    kit, body = await _session(http, runtime, organisation_id, account)
    # A misleading hint is only a hint: the access token is still found and revoked.
    await _revoke(http, runtime, kit, body["access_token"], "refresh_token")
    assert await _userinfo_status(http, body["access_token"]) == 401
    form = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    refreshed = await post_token(http, runtime, kit, form)
    assert refreshed.status_code == 200
    assert await _userinfo_status(http, refreshed.json()["access_token"]) == 200


async def test_revoking_an_unknown_token_or_another_clients_token_answers_200_and_changes_nothing(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    _, body = await _session(http, runtime, organisation_id, account)
    stranger = await key_client(runtime, organisation_id)
    await _revoke(http, runtime, stranger, "no-such-token")
    await _revoke(http, runtime, stranger, body["refresh_token"])
    await _revoke(http, runtime, stranger, body["access_token"])
    assert await _userinfo_status(http, body["access_token"]) == 200


async def test_revocation_and_introspection_need_client_authentication(
    http: httpx.AsyncClient,
) -> None:
    for path in ("/revoke", "/introspect"):
        response = await http.post(path, data={"token": "x"})
        assert response.status_code == 401 and error_of(response) == "invalid_client"


async def test_a_resource_server_may_introspect_tokens_meant_for_it(
    runtime: Runtime, organisation_id: str
) -> None:
    api = "https://api.dept.example"
    resource_server = await secret_client(
        runtime, organisation_id, grant_types=["client_credentials"], redirect_uris=[]
    )
    caller = await secret_client(
        runtime, organisation_id, grant_types=["client_credentials"], redirect_uris=[]
    )
    bystander = await secret_client(
        runtime, organisation_id, grant_types=["client_credentials"], redirect_uris=[]
    )
    settings = runtime.settings.model_copy(
        update={"resource_servers": {api: resource_server.client_id}}
    )
    tokens = TokenService(
        TokenStore(runtime.redis),
        runtime.clock,
        keys=runtime.keys,
        codes=runtime.codes,
        subjects=runtime.subjects,
        accounts=runtime.accounts,
        settings=settings,
    )
    issued = await tokens.token(caller.client, {"grant_type": "client_credentials"}, [api], None)
    seen = await tokens.introspect(resource_server.client, issued.access_token, None)
    assert seen["active"] is True and seen["aud"] == api
    assert (await tokens.introspect(caller.client, issued.access_token, None))["active"] is True
    assert await tokens.introspect(bystander.client, issued.access_token, None) == {"active": False}
