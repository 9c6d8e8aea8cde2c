"""DPoP (RFC 9449) over real HTTP: a proof binds the tokens to its key, and every way a proof
can be stale, replayed, aimed elsewhere or made with the wrong key is refused."""

from __future__ import annotations

import base64
import json
import time

import httpx
from joserfc.jwk import ECKey, OKPKey, RSAKey

from gateway.accounts.models import Account
from gateway.runtime import Runtime
from tests.gateway.tokens.support import (
    Kit,
    dpop_proof,
    error_of,
    exchange,
    issue_code,
    key_client,
    new_ec_key,
    post_token,
    secret_client,
)

CREDENTIALS = {"grant_type": "client_credentials"}


async def _api_client(
    runtime: Runtime, organisation_id: str, method: str = "client_secret_basic", **overrides: object
) -> Kit:
    return await secret_client(
        runtime,
        organisation_id,
        method,
        grant_types=["client_credentials"],
        redirect_uris=[],
        scope="permits",
        **overrides,
    )


def _unverified(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


async def _bound_session(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> tuple[ECKey, dict[str, str], Kit]:
    key = new_ec_key()
    kit = await key_client(runtime, organisation_id)
    issued = await issue_code(runtime, kit, account)
    token_url = runtime.settings.issuer + "/token"
    response = await exchange(http, runtime, kit, issued, dpop=dpop_proof(key, "POST", token_url))
    assert response.status_code == 200, response.text
    return key, response.json(), kit


async def test_a_proof_at_the_token_endpoint_binds_the_access_token_to_its_key(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    key, body, _ = await _bound_session(http, runtime, organisation_id, account)
    assert body["token_type"] == "DPoP"
    assert _unverified(body["access_token"])["cnf"] == {"jkt": key.thumbprint()}


async def test_a_bound_token_reaches_userinfo_with_a_proof_over_the_token(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    key, body, _ = await _bound_session(http, runtime, organisation_id, account)
    url = runtime.settings.issuer + "/userinfo"
    token = body["access_token"]
    headers = {"Authorization": f"DPoP {token}", "DPoP": dpop_proof(key, "GET", url, token)}
    response = await http.get("/userinfo", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["email"] == account.email


async def test_a_bound_token_sent_as_bearer_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    _, body, _ = await _bound_session(http, runtime, organisation_id, account)
    response = await http.get(
        "/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert response.status_code == 401 and error_of(response) == "invalid_token"
    assert response.headers["www-authenticate"].startswith("Bearer ")


async def test_a_proof_with_the_wrong_ath_is_refused_at_userinfo(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    key, body, _ = await _bound_session(http, runtime, organisation_id, account)
    url = runtime.settings.issuer + "/userinfo"
    proof = dpop_proof(key, "GET", url, "some-other-token")
    headers = {"Authorization": f"DPoP {body['access_token']}", "DPoP": proof}
    response = await http.get("/userinfo", headers=headers)
    assert response.status_code == 401 and error_of(response) == "invalid_dpop_proof"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("DPoP ") and 'error="invalid_dpop_proof"' in challenge


async def test_a_proof_by_another_key_is_refused_at_userinfo(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    _, body, _ = await _bound_session(http, runtime, organisation_id, account)
    url = runtime.settings.issuer + "/userinfo"
    token = body["access_token"]
    headers = {
        "Authorization": f"DPoP {token}",
        "DPoP": dpop_proof(new_ec_key(), "GET", url, token),
    }
    response = await http.get("/userinfo", headers=headers)
    assert error_of(response) == "invalid_dpop_proof" and "other than" in response.text


async def test_a_bound_token_without_a_proof_is_refused_at_userinfo(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    _, body, _ = await _bound_session(http, runtime, organisation_id, account)
    response = await http.get(
        "/userinfo", headers={"Authorization": f"DPoP {body['access_token']}"}
    )
    assert response.status_code == 401 and error_of(response) == "invalid_dpop_proof"


async def test_a_replayed_proof_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await _api_client(runtime, organisation_id)
    proof = dpop_proof(new_ec_key(), "POST", runtime.settings.issuer + "/token")
    assert (await post_token(http, runtime, kit, CREDENTIALS, dpop=proof)).status_code == 200
    again = await post_token(http, runtime, kit, CREDENTIALS, dpop=proof)
    assert again.status_code == 400 and error_of(again) == "invalid_dpop_proof"
    assert "used before" in again.text


async def test_a_proof_for_another_method_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await _api_client(runtime, organisation_id)
    proof = dpop_proof(new_ec_key(), "GET", runtime.settings.issuer + "/token")
    response = await post_token(http, runtime, kit, CREDENTIALS, dpop=proof)
    assert error_of(response) == "invalid_dpop_proof" and "htm" in response.text


async def test_a_proof_for_the_host_header_url_rather_than_the_issuer_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, gateway_url: str
) -> None:
    assert not gateway_url.startswith(runtime.settings.issuer)
    kit = await _api_client(runtime, organisation_id)
    proof = dpop_proof(new_ec_key(), "POST", gateway_url + "/token")
    response = await post_token(http, runtime, kit, CREDENTIALS, dpop=proof)
    assert error_of(response) == "invalid_dpop_proof" and "htu" in response.text


async def test_a_proof_htu_may_differ_only_by_query_and_default_normalisation(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await _api_client(runtime, organisation_id)
    url = runtime.settings.issuer.replace("http://", "HTTP://") + "/token?x=1#f"
    response = await post_token(
        http, runtime, kit, CREDENTIALS, dpop=dpop_proof(new_ec_key(), "POST", url)
    )
    assert response.status_code == 200, response.text


async def test_a_stale_proof_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await _api_client(runtime, organisation_id)
    url = runtime.settings.issuer + "/token"
    stale = dpop_proof(new_ec_key(), "POST", url, iat=int(time.time()) - 600)
    response = await post_token(http, runtime, kit, CREDENTIALS, dpop=stale)
    assert error_of(response) == "invalid_dpop_proof" and "iat" in response.text


async def test_a_proof_that_is_not_typed_dpop_jwt_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await _api_client(runtime, organisation_id)
    url = runtime.settings.issuer + "/token"
    proof = dpop_proof(new_ec_key(), "POST", url, header={"typ": "JWT"})
    assert (
        error_of(await post_token(http, runtime, kit, CREDENTIALS, dpop=proof))
        == "invalid_dpop_proof"
    )


async def test_a_proof_whose_jwk_holds_the_private_key_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await _api_client(runtime, organisation_id)
    key = new_ec_key()
    url = runtime.settings.issuer + "/token"
    proof = dpop_proof(key, "POST", url, header={"jwk": key.as_dict(private=True)})
    response = await post_token(http, runtime, kit, CREDENTIALS, dpop=proof)
    assert error_of(response) == "invalid_dpop_proof" and "private" in response.text


async def test_two_proofs_in_one_request_are_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await _api_client(runtime, organisation_id, "client_secret_post")
    url = runtime.settings.issuer + "/token"
    form = {**CREDENTIALS, "client_id": kit.client_id, "client_secret": kit.secret or ""}
    headers = [("DPoP", dpop_proof(new_ec_key(), "POST", url)) for _ in range(2)]
    response = await http.post("/token", data=form, headers=headers)
    assert error_of(response) == "invalid_dpop_proof" and "exactly one" in response.text


async def test_a_client_that_requires_dpop_must_send_a_proof(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await _api_client(runtime, organisation_id, require_dpop=True)
    response = await post_token(http, runtime, kit, CREDENTIALS)
    assert error_of(response) == "invalid_dpop_proof" and "must send" in response.text
    proof = dpop_proof(new_ec_key(), "POST", runtime.settings.issuer + "/token")
    bound = await post_token(http, runtime, kit, CREDENTIALS, dpop=proof)
    assert bound.json()["token_type"] == "DPoP"


async def test_a_code_bound_to_a_dpop_key_needs_a_proof_by_that_key(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    key = new_ec_key()
    kit = await key_client(runtime, organisation_id)
    url = runtime.settings.issuer + "/token"
    wrong = await issue_code(runtime, kit, account, dpop_jkt=key.thumbprint())
    response = await exchange(http, runtime, kit, wrong, dpop=dpop_proof(new_ec_key(), "POST", url))
    assert error_of(response) == "invalid_dpop_proof" and "dpop_jkt" in response.text
    right = await issue_code(runtime, kit, account, dpop_jkt=key.thumbprint())
    response = await exchange(http, runtime, kit, right, dpop=dpop_proof(key, "POST", url))
    assert response.status_code == 200 and response.json()["token_type"] == "DPoP"


async def test_refresh_tokens_of_a_dpop_session_are_bound_to_its_key(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    key, body, kit = await _bound_session(http, runtime, organisation_id, account)
    url = runtime.settings.issuer + "/token"
    form = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    unproven = await post_token(http, runtime, kit, form)
    assert error_of(unproven) == "invalid_dpop_proof"
    other = await post_token(http, runtime, kit, form, dpop=dpop_proof(new_ec_key(), "POST", url))
    assert error_of(other) == "invalid_dpop_proof"
    refreshed = await post_token(http, runtime, kit, form, dpop=dpop_proof(key, "POST", url))
    assert refreshed.status_code == 200, refreshed.text
    assert _unverified(refreshed.json()["access_token"])["cnf"] == {"jkt": key.thumbprint()}


async def test_a_bearer_token_sent_with_the_dpop_scheme_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    kit = await key_client(runtime, organisation_id)
    body = (await exchange(http, runtime, kit, await issue_code(runtime, kit, account))).json()
    token = body["access_token"]
    url = runtime.settings.issuer + "/userinfo"
    headers = {
        "Authorization": f"DPoP {token}",
        "DPoP": dpop_proof(new_ec_key(), "GET", url, token),
    }
    response = await http.get("/userinfo", headers=headers)
    assert error_of(response) == "invalid_token" and "not DPoP-bound" in response.text


async def test_an_eddsa_proof_is_accepted(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await _api_client(runtime, organisation_id)
    key = OKPKey.generate_key("Ed25519")
    proof = dpop_proof(key, "POST", runtime.settings.issuer + "/token", header={"alg": "EdDSA"})
    response = await post_token(http, runtime, kit, CREDENTIALS, dpop=proof)
    assert response.status_code == 200, response.text
    assert _unverified(response.json()["access_token"])["cnf"] == {"jkt": key.thumbprint()}


async def test_a_ps256_proof_with_a_large_rsa_key_is_accepted(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await _api_client(runtime, organisation_id)
    key = RSAKey.generate_key(4096)
    proof = dpop_proof(key, "POST", runtime.settings.issuer + "/token", header={"alg": "PS256"})
    response = await post_token(http, runtime, kit, CREDENTIALS, dpop=proof)
    assert response.status_code == 200, response.text
