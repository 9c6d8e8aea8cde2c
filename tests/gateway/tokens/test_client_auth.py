"""Client authentication at the token endpoint (RFC 6749 §2.3.1, RFC 7523 §3, OIDC Core §9):
every way an assertion or a secret can be wrong is refused with invalid_client."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from gateway.clients.models import ClientUpdate
from gateway.runtime import Runtime
from gateway.tokens.client_auth import ASSERTION_TYPE
from tests.conftest import TEST_ACTOR
from tests.gateway.tokens.support import (
    ANY_ALG,
    Kit,
    assertion,
    error_of,
    key_client,
    new_ec_key,
    post_token,
    secret_client,
)

CREDENTIALS = {"grant_type": "client_credentials", "scope": "permits"}


async def _api_client(runtime: Runtime, organisation_id: str, **overrides: Any) -> Kit:
    return await key_client(
        runtime,
        organisation_id,
        grant_types=["client_credentials"],
        redirect_uris=[],
        scope="permits",
        **overrides,
    )


async def _with_assertion(http: httpx.AsyncClient, value: str) -> httpx.Response:
    form = {**CREDENTIALS, "client_assertion_type": ASSERTION_TYPE, "client_assertion": value}
    return await http.post("/token", data=form)


def _refused(response: httpx.Response, words: str) -> None:
    assert response.status_code == 401, response.text
    assert error_of(response) == "invalid_client"
    assert words in response.json()["error_description"], response.text


async def test_a_private_key_jwt_client_authenticates_with_an_assertion_to_the_issuer(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await _api_client(runtime, organisation_id)
    for audience in (runtime.settings.issuer, runtime.settings.issuer + "/token"):
        response = await _with_assertion(http, assertion(kit, audience))
        assert response.status_code == 200, response.text


async def test_an_assertion_for_another_audience_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await _api_client(runtime, organisation_id)
    response = await _with_assertion(http, assertion(kit, "https://other-idp.example"))
    _refused(response, "aud")


async def test_an_assertion_listing_several_audiences_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await _api_client(runtime, organisation_id)
    audiences = [runtime.settings.issuer, "https://other-idp.example"]
    _refused(await _with_assertion(http, assertion(kit, "", aud=audiences)), "aud")


async def test_an_expired_assertion_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await _api_client(runtime, organisation_id)
    expired = assertion(kit, runtime.settings.issuer, exp=int(time.time()) - 120)
    _refused(await _with_assertion(http, expired), "expired")


async def test_an_assertion_expiring_more_than_five_minutes_ahead_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await _api_client(runtime, organisation_id)
    distant = assertion(kit, runtime.settings.issuer, exp=int(time.time()) + 3600)
    _refused(await _with_assertion(http, distant), "seconds ahead")


async def test_an_assertion_without_exp_or_jti_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await _api_client(runtime, organisation_id)
    _refused(await _with_assertion(http, assertion(kit, runtime.settings.issuer, exp=None)), "exp")
    _refused(await _with_assertion(http, assertion(kit, runtime.settings.issuer, jti=None)), "jti")


async def test_an_assertion_issued_in_the_future_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await _api_client(runtime, organisation_id)
    future = assertion(kit, runtime.settings.issuer, iat=int(time.time()) + 600)
    _refused(await _with_assertion(http, future), "iat")


async def test_a_replayed_assertion_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await _api_client(runtime, organisation_id)
    value = assertion(kit, runtime.settings.issuer)
    assert (await _with_assertion(http, value)).status_code == 200
    _refused(await _with_assertion(http, value), "jti was used before")


async def test_an_unsigned_assertion_alg_none_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await _api_client(runtime, organisation_id)
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": kit.client_id,
        "sub": kit.client_id,
        "aud": runtime.settings.issuer,
    }
    claims.update(exp=now + 60, jti="none-1")

    def segment(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    unsigned = f"{segment({'alg': 'none', 'kid': 'key-1'})}.{segment(claims)}."
    _refused(await _with_assertion(http, unsigned), "'none'")


async def test_an_hs256_assertion_keyed_with_the_public_key_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await _api_client(runtime, organisation_id)
    assert kit.client.jwks is not None
    public = json.dumps(kit.client.jwks["keys"][0]).encode()
    forged = assertion(
        kit, runtime.settings.issuer, header={"alg": "HS256"}, key=OctKey.import_key(public)
    )
    _refused(await _with_assertion(http, forged), "HS256")


async def test_an_assertion_carrying_its_own_jwk_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await _api_client(runtime, organisation_id)
    attacker = new_ec_key()
    forged = assertion(
        kit,
        runtime.settings.issuer,
        header={"jwk": attacker.as_dict(private=False)},
        key=attacker,
    )
    _refused(await _with_assertion(http, forged), "jwk")


async def test_an_assertion_signed_by_a_key_the_client_did_not_register_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await _api_client(runtime, organisation_id)
    forged = assertion(kit, runtime.settings.issuer, key=new_ec_key())
    _refused(await _with_assertion(http, forged), "signature")
    unknown_kid = assertion(kit, runtime.settings.issuer, header={"kid": "key-9"})
    _refused(await _with_assertion(http, unknown_kid), "key-9")


async def test_an_assertion_whose_iss_is_not_its_sub_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await _api_client(runtime, organisation_id)
    value = assertion(kit, runtime.settings.issuer, sub="cli_" + "B" * 22)
    _refused(await _with_assertion(http, value), "iss and sub")


async def test_rs256_is_accepted_only_from_an_rsa_key_registered_for_it(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    key = RSAKey.generate_key(2048)
    plain = await _api_client(runtime, organisation_id, key=key)
    value = assertion(plain, runtime.settings.issuer, header={"alg": "RS256"})
    _refused(await _with_assertion(http, value), "RS256")
    ps256 = assertion(plain, runtime.settings.issuer, header={"alg": "PS256"})
    assert (await _with_assertion(http, ps256)).status_code == 200

    public = {**key.as_dict(private=False), "kid": "key-1", "use": "sig", "alg": "RS256"}
    chosen = await _api_client(runtime, organisation_id, key=key, jwks={"keys": [public]})
    value = assertion(chosen, runtime.settings.issuer, header={"alg": "RS256"})
    assert (await _with_assertion(http, value)).status_code == 200


async def test_a_secret_client_authenticates_by_basic_and_by_post_as_registered(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    for method in ("client_secret_basic", "client_secret_post"):
        kit = await secret_client(
            runtime,
            organisation_id,
            method=method,
            grant_types=["client_credentials"],
            redirect_uris=[],
            scope="permits",
        )
        response = await post_token(http, runtime, kit, CREDENTIALS)
        assert response.status_code == 200, response.text


async def test_basic_credentials_are_form_urldecoded(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await secret_client(
        runtime, organisation_id, grant_types=["client_credentials"], redirect_uris=[]
    )
    assert kit.secret is not None
    encoded = kit.secret.replace("-", "%2D").replace("_", "%5F")
    basic = base64.b64encode(f"{kit.client_id}:{encoded}".encode()).decode()
    response = await http.post(
        "/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200, response.text


async def test_a_wrong_secret_is_refused_without_echoing_it(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await secret_client(runtime, organisation_id, method="client_secret_post")
    wrong = "wrong-secret-value-0123456789"
    form = {**CREDENTIALS, "client_id": kit.client_id, "client_secret": wrong}
    response = await http.post("/token", data=form)
    assert response.status_code == 401 and error_of(response) == "invalid_client"
    assert wrong not in response.text


async def test_a_method_other_than_the_registered_one_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await secret_client(runtime, organisation_id, method="client_secret_basic")
    form = {**CREDENTIALS, "client_id": kit.client_id, "client_secret": kit.secret or ""}
    _refused(await http.post("/token", data=form), "registered for client_secret_basic")


async def test_a_request_without_client_authentication_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await _api_client(runtime, organisation_id)
    form = {**CREDENTIALS, "client_id": kit.client_id}
    _refused(await http.post("/token", data=form), "required")


async def test_two_methods_in_one_request_are_refused(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await _api_client(runtime, organisation_id)
    form = {
        **CREDENTIALS,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion(kit, runtime.settings.issuer),
        "client_secret": "x",
    }
    _refused(await http.post("/token", data=form), "more than one")


async def test_a_disabled_client_cannot_authenticate(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    kit = await _api_client(runtime, organisation_id)
    await runtime.clients.disable(kit.client_id, TEST_ACTOR)
    _refused(await _with_assertion(http, assertion(kit, runtime.settings.issuer)), "enabled")


@pytest.mark.parametrize("kind", ["jwk", "x5c", "jku"])
async def test_key_headers_are_never_trusted(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, kind: str
) -> None:
    kit = await _api_client(runtime, organisation_id)
    values: dict[str, Any] = {
        "jwk": kit.key.as_dict(private=False) if kit.key else {},
        "x5c": ["MIIB"],
        "jku": "https://attacker.example/jwks",
    }
    value = assertion(kit, runtime.settings.issuer, header={kind: values[kind]})
    _refused(await _with_assertion(http, value), kind)


def test_the_any_alg_registry_signs_what_tests_need() -> None:
    """A guard for the tests themselves: the forging registry really signs HS256."""
    token = jwt.encode({"alg": "HS256"}, {"a": 1}, OctKey.import_key(b"k" * 32), registry=ANY_ALG)
    assert token.count(".") == 2


async def test_a_key_withdrawn_from_the_registration_stops_working_at_once(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str
) -> None:
    """Parsed key sets are reused by content, so replacing a compromised key (under the same
    kid, even) refuses the old one on the very next request, in every process."""
    kit = await _api_client(runtime, organisation_id)
    stolen = kit.key
    assert (await _with_assertion(http, assertion(kit, runtime.settings.issuer))).status_code == 200
    replacement = new_ec_key()
    public = {**replacement.as_dict(private=False), "kid": kit.kid, "use": "sig"}
    update = ClientUpdate.build({"jwks": {"keys": [public]}})
    kit.client = (await runtime.clients.update(kit.client_id, update, TEST_ACTOR)).client
    _refused(
        await _with_assertion(http, assertion(kit, runtime.settings.issuer, key=stolen)),
        "not valid",
    )
    kit.key = replacement
    assert (await _with_assertion(http, assertion(kit, runtime.settings.issuer))).status_code == 200
