"""Refresh tokens (RFC 6749 §6, RFC 9700 §4.14.2): rotated on every use, a replay ends the
whole family, the scope only narrows, and only the client they were issued to can use them."""

from __future__ import annotations

import base64
import json

import httpx

from gateway.accounts.models import Account
from gateway.clients.models import ClientUpdate
from gateway.runtime import Runtime
from gateway.tokens.store import family_key
from tests.conftest import TEST_ACTOR
from tests.gateway.tokens.support import (
    Kit,
    error_of,
    exchange,
    issue_code,
    key_client,
    post_token,
)


async def _session(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> tuple[Kit, dict[str, str]]:
    kit = await key_client(runtime, organisation_id, scope="openid email phone")
    issued = await issue_code(runtime, kit, account, scope=("openid", "email", "phone"))
    response = await exchange(http, runtime, kit, issued)
    assert response.status_code == 200, response.text
    return kit, response.json()


def _refresh(token: str, **extra: str) -> dict[str, str]:
    return {"grant_type": "refresh_token", "refresh_token": token, **extra}


def _payload(token: str) -> dict[str, object]:
    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


async def test_a_refresh_rotates_the_refresh_token_and_issues_fresh_tokens(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    kit, first = await _session(http, runtime, organisation_id, account)
    response = await post_token(http, runtime, kit, _refresh(first["refresh_token"]))
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"] and second["id_token"]
    assert "nonce" not in _payload(second["id_token"])
    assert _payload(second["id_token"])["sub"] == _payload(first["id_token"])["sub"]
    again = await post_token(http, runtime, kit, _refresh(second["refresh_token"]))
    assert again.status_code == 200


async def test_the_refresh_token_is_stored_only_as_a_digest(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    _, body = await _session(http, runtime, organisation_id, account)
    grant_id, _, secret = body["refresh_token"].rpartition(".")
    stored = await runtime.redis.hgetall(family_key(grant_id))
    assert stored and secret not in json.dumps(stored)


async def test_a_reused_refresh_token_revokes_the_whole_family(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    kit, first = await _session(http, runtime, organisation_id, account)
    second = (await post_token(http, runtime, kit, _refresh(first["refresh_token"]))).json()

    replay = await post_token(http, runtime, kit, _refresh(first["refresh_token"]))
    assert replay.status_code == 400 and error_of(replay) == "invalid_grant"
    assert "revoked" in replay.json()["error_description"]

    successor = await post_token(http, runtime, kit, _refresh(second["refresh_token"]))
    assert error_of(successor) == "invalid_grant"
    userinfo = await http.get(
        "/userinfo", headers={"Authorization": f"Bearer {second['access_token']}"}
    )
    assert userinfo.status_code == 401 and error_of(userinfo) == "invalid_token"


async def test_a_refresh_may_narrow_the_scope(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    kit, first = await _session(http, runtime, organisation_id, account)
    narrowed = await post_token(
        http, runtime, kit, _refresh(first["refresh_token"], scope="openid")
    )
    assert narrowed.status_code == 200 and narrowed.json()["scope"] == "openid"
    # The family keeps what was granted: the next refresh may ask for it all again.
    full = await post_token(http, runtime, kit, _refresh(narrowed.json()["refresh_token"]))
    assert full.json()["scope"] == "openid email phone"


async def test_a_refresh_asking_for_a_wider_scope_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    kit, first = await _session(http, runtime, organisation_id, account)
    wider = _refresh(first["refresh_token"], scope="openid email profile")
    response = await post_token(http, runtime, kit, wider)
    assert response.status_code == 400 and error_of(response) == "invalid_scope"
    still = await post_token(http, runtime, kit, _refresh(first["refresh_token"]))
    assert still.status_code == 200, "a refused request does not spend the refresh token"


async def test_another_client_cannot_use_a_refresh_token(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    _, first = await _session(http, runtime, organisation_id, account)
    other = await key_client(runtime, organisation_id)
    response = await post_token(http, runtime, other, _refresh(first["refresh_token"]))
    assert error_of(response) == "invalid_grant" and "another client" in response.text


async def test_a_made_up_refresh_token_is_invalid_grant(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    kit, first = await _session(http, runtime, organisation_id, account)
    grant_id = first["refresh_token"].rpartition(".")[0]
    for token in ("garbage", f"{grant_id}.{'A' * 43}"):
        response = await post_token(http, runtime, kit, _refresh(token))
        assert error_of(response) == "invalid_grant"
    # A guessed token naming a real family does not end it.
    assert (
        await post_token(http, runtime, kit, _refresh(first["refresh_token"]))
    ).status_code == 200


async def test_a_client_that_lost_the_refresh_grant_can_no_longer_refresh(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    kit, first = await _session(http, runtime, organisation_id, account)
    update = ClientUpdate.build({"grant_types": ["authorization_code"]})
    kit.client = (await runtime.clients.update(kit.client_id, update, TEST_ACTOR)).client
    response = await post_token(http, runtime, kit, _refresh(first["refresh_token"]))
    assert error_of(response) == "unauthorized_client"


async def test_ending_the_sign_in_revokes_its_refresh_tokens(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    """Back-Channel Logout 1.0 §2.7: when the GovConnect session ends, the refresh tokens
    issued during it stop working, and so do their access tokens."""
    kit = await key_client(runtime, organisation_id, scope="openid email")
    issued = await issue_code(runtime, kit, account)
    tokens = (await exchange(http, runtime, kit, issued)).json()
    await runtime.tokens.session_ended(account.id, issued.grant.sid, frozenset({kit.client_id}))
    refused = await post_token(http, runtime, kit, _refresh(tokens["refresh_token"]))
    assert refused.status_code == 400 and error_of(refused) == "invalid_grant"
    userinfo = await http.get(
        "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert userinfo.status_code == 401


async def test_another_sign_in_ending_leaves_these_tokens_alone(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    kit = await key_client(runtime, organisation_id, scope="openid email")
    issued = await issue_code(runtime, kit, account)
    tokens = (await exchange(http, runtime, kit, issued)).json()
    await runtime.tokens.session_ended(account.id, "sid-other", frozenset({kit.client_id}))
    assert (
        await post_token(http, runtime, kit, _refresh(tokens["refresh_token"]))
    ).status_code == 200
