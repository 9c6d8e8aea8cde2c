"""Tokens never carry more than the person agreed to, nor outlive a sign-out or a withdrawn
consent."""

from __future__ import annotations

import base64
import json

import httpx

from gateway.accounts.models import Account
from gateway.runtime import Runtime
from tests.gateway.tokens.support import error_of, exchange, issue_code, key_client, post_token


def _payload(token: str) -> dict[str, object]:
    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


async def test_the_claims_parameter_cannot_ask_for_claims_no_granted_scope_covers(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    """OIDC Core §5.5 chooses where claims go; consent is per scope (§5.4), so a request for
    email under scope openid alone gets no email, in the ID token or at userinfo."""
    kit = await key_client(runtime, organisation_id, scope="openid")
    asked = {"id_token": {"email": None, "name": None}, "userinfo": {"email": None}}
    issued = await issue_code(runtime, kit, account, scope=("openid",), claims=asked)
    tokens = (await exchange(http, runtime, kit, issued)).json()
    assert "email" not in _payload(tokens["id_token"])
    userinfo = await http.get(
        "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert userinfo.status_code == 200 and "email" not in userinfo.json()


async def test_the_claims_parameter_still_places_granted_claims_in_the_id_token(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    kit = await key_client(runtime, organisation_id, scope="openid email")
    asked = {"id_token": {"email": {"essential": True}}}
    issued = await issue_code(runtime, kit, account, scope=("openid", "email"), claims=asked)
    tokens = (await exchange(http, runtime, kit, issued)).json()
    assert _payload(tokens["id_token"])["email"] == account.email


async def test_a_code_redeemed_after_the_person_signed_out_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    kit = await key_client(runtime, organisation_id, scope="openid email")
    issued = await issue_code(runtime, kit, account)
    await runtime.tokens.session_ended(account.id, issued.grant.sid, frozenset({kit.client_id}))
    late = await exchange(http, runtime, kit, issued)
    assert late.status_code == 400 and error_of(late) == "invalid_grant"
    assert "signed out" in late.json()["error_description"]


async def test_withdrawing_consent_revokes_the_clients_tokens(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    kit = await key_client(runtime, organisation_id, scope="openid email")
    tokens = (await exchange(http, runtime, kit, await issue_code(runtime, kit, account))).json()
    await runtime.tokens.consent_withdrawn(account.id, kit.client_id)
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    refused = await post_token(http, runtime, kit, refresh)
    assert refused.status_code == 400 and error_of(refused) == "invalid_grant"
