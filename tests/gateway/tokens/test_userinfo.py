"""UserInfo (OIDC Core §5.3): the person's pairwise sub and the claims their scopes grant and
their account holds; RFC 6750 §3 challenges when the token is missing, wrong or too narrow."""

from __future__ import annotations

import secrets

import httpx
import pytest

from gateway.accounts.models import Account
from gateway.oidc.errors import InvalidTokenError
from gateway.runtime import Runtime
from gateway.tokens.services import TokenService
from gateway.tokens.store import TokenStore
from tests.conftest import TEST_ACTOR
from tests.gateway.tokens.support import (
    error_of,
    exchange,
    issue_code,
    key_client,
    post_token,
    secret_client,
)
from tests.support.accounts import PASSWORD


async def _access_token(
    http: httpx.AsyncClient,
    runtime: Runtime,
    organisation_id: str,
    account: Account,
    scope: tuple[str, ...] = ("openid", "email", "phone"),
) -> tuple[str, str]:
    kit = await key_client(runtime, organisation_id, scope="openid email phone profile")
    issued = await issue_code(runtime, kit, account, scope=scope)
    response = await exchange(http, runtime, kit, issued)
    assert response.status_code == 200, response.text
    return response.json()["access_token"], kit.client.sector_identifier


async def test_userinfo_returns_the_pairwise_sub_and_the_claims_the_account_holds(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    token, sector = await _access_token(http, runtime, organisation_id, account)
    for method in ("GET", "POST"):
        response = await http.request(
            method, "/userinfo", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        # The phone scope was granted but the account has no number: no phone claims at all.
        assert response.json() == {
            "sub": runtime.subjects.subject(sector, account.id),
            "email": account.email,
            "email_verified": True,
        }


async def test_a_request_without_a_token_gets_a_challenge_without_an_error_code(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/userinfo")
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer realm=") and "DPoP" in challenge
    assert "error=" not in challenge


async def test_a_forged_token_is_invalid_token(http: httpx.AsyncClient) -> None:
    response = await http.get("/userinfo", headers={"Authorization": "Bearer a.b.c"})
    assert response.status_code == 401 and error_of(response) == "invalid_token"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_a_token_without_openid_is_insufficient_scope(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    token, _ = await _access_token(http, runtime, organisation_id, account, scope=("email",))
    response = await http.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403 and error_of(response) == "insufficient_scope"
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


async def test_a_system_token_has_no_person_to_describe(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await secret_client(
        runtime, organisation_id, grant_types=["client_credentials"], redirect_uris=[]
    )
    response = await post_token(http, runtime, kit, {"grant_type": "client_credentials"})
    token = response.json()["access_token"]
    refused = await http.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403 and error_of(refused) == "insufficient_scope"


async def test_a_disabled_account_gets_no_userinfo(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    person = await runtime.accounts.create(
        f"leaver-{secrets.token_hex(4)}@example.org",
        PASSWORD,
        verified=True,
        totp_secret=None,
        actor=TEST_ACTOR,
    )
    token, _ = await _access_token(http, runtime, organisation_id, person)
    await runtime.accounts.disable(person.id, TEST_ACTOR)
    response = await http.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and error_of(response) == "invalid_token"


async def test_a_token_meant_for_another_resource_is_refused_at_userinfo(
    runtime: Runtime, organisation_id: str, account: Account
) -> None:
    api = "https://api.dept.example"
    settings = runtime.settings.model_copy(update={"resource_servers": {api: "cli_" + "R" * 22}})
    tokens = TokenService(
        TokenStore(runtime.redis),
        runtime.clock,
        keys=runtime.keys,
        codes=runtime.codes,
        subjects=runtime.subjects,
        accounts=runtime.accounts,
        settings=settings,
    )
    kit = await key_client(runtime, organisation_id)
    issued = await issue_code(runtime, kit, account)
    form = {
        "grant_type": "authorization_code",
        "code": issued.code,
        "redirect_uri": issued.grant.redirect_uri,
        "code_verifier": issued.verifier,
    }
    response = await tokens.token(kit.client, form, [api], None)
    with pytest.raises(InvalidTokenError, match="not meant for"):
        await tokens.userinfo(response.access_token, scheme="bearer", proof=None, method="GET")
