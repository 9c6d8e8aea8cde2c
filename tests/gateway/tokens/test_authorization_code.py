"""The authorization code grant over real HTTP: PKCE, single use, exact redirect URI, the
client the code was issued to, and ID tokens that a relying party can verify with the JWKS."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from gateway.accounts.models import Account
from gateway.runtime import Runtime
from tests.gateway.tokens.support import (
    error_of,
    exchange,
    issue_code,
    key_client,
    post_token,
    secret_client,
)


async def _verified_id_token(
    http: httpx.AsyncClient, token: str, alg: str = "ES256"
) -> dict[str, object]:
    keys = KeySet.import_key_set((await http.get("/.well-known/jwks.json")).json())
    return dict(jwt.decode(token, keys, algorithms=[alg]).claims)


async def test_a_code_exchange_returns_tokens_an_id_token_verifies_with_the_published_jwks(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    kit = await key_client(runtime, organisation_id)
    issued = await issue_code(runtime, kit, account)
    response = await exchange(http, runtime, kit, issued)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300
    assert body["scope"] == "openid email" and body["refresh_token"]
    claims = await _verified_id_token(http, body["id_token"])
    assert claims["iss"] == runtime.settings.issuer and claims["aud"] == kit.client_id
    assert claims["nonce"] == issued.grant.nonce
    assert claims["sid"] == issued.grant.sid and claims["amr"] == ["pwd", "otp"]
    assert claims["acr"] == "Cl.Cm"
    assert claims["auth_time"] == int(issued.grant.auth_time.timestamp())
    digest = hashlib.sha256(body["access_token"].encode()).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
    assert claims["sub"] == runtime.subjects.subject(kit.client.sector_identifier, account.id)
    assert account.id not in str(claims)


async def test_the_same_person_gets_a_different_sub_in_each_sector(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    subs = []
    for host in ("permits.anytown.example", "bins.othertown.example"):
        kit = await key_client(runtime, organisation_id, redirect_uris=[f"https://{host}/cb"])
        body = (await exchange(http, runtime, kit, await issue_code(runtime, kit, account))).json()
        subs.append((await _verified_id_token(http, body["id_token"]))["sub"])
    assert subs[0] != subs[1]


async def test_an_rs256_client_gets_an_rs256_id_token(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    kit = await key_client(runtime, organisation_id, id_token_signed_response_alg="RS256")
    body = (await exchange(http, runtime, kit, await issue_code(runtime, kit, account))).json()
    claims = await _verified_id_token(http, body["id_token"], alg="RS256")
    assert claims["aud"] == kit.client_id


async def test_claims_asked_for_in_the_id_token_are_in_it(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    kit = await key_client(runtime, organisation_id)
    issued = await issue_code(
        runtime, kit, account, claims={"id_token": {"email": {"essential": True}}}
    )
    body = (await exchange(http, runtime, kit, issued)).json()
    assert (await _verified_id_token(http, body["id_token"]))["email"] == account.email


async def test_a_missing_code_verifier_is_invalid_grant(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    kit = await key_client(runtime, organisation_id)
    issued = await issue_code(runtime, kit, account)
    form = {"grant_type": "authorization_code", "code": issued.code}
    form["redirect_uri"] = issued.grant.redirect_uri
    response = await post_token(http, runtime, kit, form)
    assert response.status_code == 400 and error_of(response) == "invalid_grant"
    assert "code_verifier" in response.json()["error_description"]


async def test_a_wrong_code_verifier_is_invalid_grant(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    kit = await key_client(runtime, organisation_id)
    issued = await issue_code(runtime, kit, account)
    form = {
        "grant_type": "authorization_code",
        "code": issued.code,
        "redirect_uri": issued.grant.redirect_uri,
        "code_verifier": "W" * 43,
    }
    response = await post_token(http, runtime, kit, form)
    assert error_of(response) == "invalid_grant"


async def test_a_reused_code_is_refused_and_revokes_what_it_issued(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    kit = await key_client(runtime, organisation_id)
    issued = await issue_code(runtime, kit, account)
    first = (await exchange(http, runtime, kit, issued)).json()
    headers = {"Authorization": f"Bearer {first['access_token']}"}
    assert (await http.get("/userinfo", headers=headers)).status_code == 200

    again = await exchange(http, runtime, kit, issued)
    assert again.status_code == 400 and error_of(again) == "invalid_grant"

    refused = await http.get("/userinfo", headers=headers)
    assert refused.status_code == 401 and error_of(refused) == "invalid_token"
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    assert error_of(await post_token(http, runtime, kit, refresh)) == "invalid_grant"


async def test_a_code_older_than_sixty_seconds_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    kit = await key_client(runtime, organisation_id)
    issued_at = datetime.now(UTC) - timedelta(seconds=90)
    issued = await issue_code(runtime, kit, account, issued_at=issued_at)
    response = await exchange(http, runtime, kit, issued)
    assert error_of(response) == "invalid_grant" and "expired" in response.text


async def test_an_unknown_code_is_invalid_grant(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    kit = await key_client(runtime, organisation_id)
    issued = await issue_code(runtime, kit, account)
    form = {"grant_type": "authorization_code", "code": "not-a-code", "code_verifier": "x"}
    form["redirect_uri"] = issued.grant.redirect_uri
    assert error_of(await post_token(http, runtime, kit, form)) == "invalid_grant"


async def test_a_code_redeemed_by_another_client_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    owner = await key_client(runtime, organisation_id)
    thief = await key_client(runtime, organisation_id)
    issued = await issue_code(runtime, owner, account)
    response = await exchange(http, runtime, thief, issued)
    assert error_of(response) == "invalid_grant" and "another client" in response.text


async def test_a_different_redirect_uri_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    kit = await key_client(runtime, organisation_id)
    issued = await issue_code(runtime, kit, account)
    form = {
        "grant_type": "authorization_code",
        "code": issued.code,
        "redirect_uri": issued.grant.redirect_uri + "/",
        "code_verifier": issued.verifier,
    }
    response = await post_token(http, runtime, kit, form)
    assert error_of(response) == "invalid_grant" and "redirect_uri" in response.text


async def test_a_client_without_the_refresh_grant_gets_no_refresh_token(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    kit = await key_client(runtime, organisation_id, grant_types=["authorization_code"])
    body = (await exchange(http, runtime, kit, await issue_code(runtime, kit, account))).json()
    assert "refresh_token" not in body and body["id_token"]


async def test_a_grant_the_client_did_not_register_is_unauthorized_client(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await secret_client(runtime, organisation_id)
    form = {"grant_type": "client_credentials"}
    response = await post_token(http, runtime, kit, form)
    assert response.status_code == 400 and error_of(response) == "unauthorized_client"


async def test_an_unknown_grant_type_is_unsupported_grant_type(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await secret_client(runtime, organisation_id)
    response = await post_token(http, runtime, kit, {"grant_type": "password"})
    assert error_of(response) == "unsupported_grant_type"


async def test_a_parameter_sent_twice_is_invalid_request(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await secret_client(runtime, organisation_id, method="client_secret_post")
    assert kit.secret is not None
    body = (
        f"grant_type=authorization_code&code=a&code=b&client_id={kit.client_id}"
        f"&client_secret={kit.secret}"
    )
    response = await http.post(
        "/token", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert error_of(response) == "invalid_request" and "more than once" in response.text


async def test_a_json_body_is_invalid_request(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    response = await http.post("/token", json={"grant_type": "client_credentials"})
    assert response.status_code == 400 and error_of(response) == "invalid_request"
