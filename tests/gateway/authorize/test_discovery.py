"""The provider metadata (OIDC Discovery §3, RFC 8414 §2) says exactly what the endpoints do:
each advertised endpoint answers, and each advertised method, algorithm and value is one
the gateway accepts."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

from gateway.clients.models import ClientRegistration, GrantType
from gateway.core.settings import Settings
from gateway.oidc.models import SCOPE_CLAIMS
from gateway.runtime import Runtime
from gateway.tokens.client_auth import ASSERTION_TYPE
from tests.conftest import TEST_ACTOR
from tests.gateway.authorize.support import (
    authorize_path,
    callback,
    relying_party,
    request_params,
    visit,
)
from tests.gateway.clients.support import registration
from tests.support.web import Browser
from trust_levels.models import Vector

OpenBrowser = Callable[..., Browser]
SIGNING = JWSRegistry(algorithms=["ES256", "PS256", "RS256", "EdDSA"], strict_check_header=False)


@pytest.fixture(scope="module")
async def document(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_both_well_known_documents_are_the_same_cacheable_public_json(
    http: httpx.AsyncClient, settings: Settings, document: dict[str, Any]
) -> None:
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        response = await http.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.headers["cache-control"] == "public, max-age=3600"
        assert response.headers["access-control-allow-origin"] == "*"
        assert response.json() == document
    jwks = await http.get("/.well-known/jwks.json")
    assert jwks.headers["access-control-allow-origin"] == "*"
    assert document["issuer"] == settings.issuer


async def test_the_values_are_the_implemented_ones(document: dict[str, Any]) -> None:
    assert document["response_types_supported"] == ["code"]
    assert document["response_modes_supported"] == ["query"]
    assert document["subject_types_supported"] == ["pairwise"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["request_uri_parameter_supported"] is False
    assert document["require_pushed_authorization_requests"] is False
    assert document["authorization_response_iss_parameter_supported"] is True
    assert document["claims_parameter_supported"] is True
    assert document["request_parameter_supported"] is True
    assert set(document["grant_types_supported"]) <= {g.value for g in GrantType}
    assert {"openid", *SCOPE_CLAIMS} <= set(document["scopes_supported"])
    assert {"sub", "auth_time", "acr", "amr", "sid", "email"} <= set(document["claims_supported"])
    assert "registration_endpoint" not in document


_METHODS = {
    "authorization_endpoint": "GET",
    "token_endpoint": "POST",
    "userinfo_endpoint": "GET",
    "jwks_uri": "GET",
    "pushed_authorization_request_endpoint": "POST",
    "introspection_endpoint": "POST",
    "revocation_endpoint": "POST",
    "end_session_endpoint": "GET",
}


@pytest.mark.parametrize("name", sorted(_METHODS))
async def test_every_advertised_endpoint_answers(
    http: httpx.AsyncClient, settings: Settings, document: dict[str, Any], name: str
) -> None:
    url = document[name]
    assert url.startswith(settings.issuer + "/")
    response = await http.request(_METHODS[name], url.removeprefix(settings.issuer))
    assert response.status_code not in (404, 405), (name, response.status_code)
    assert response.status_code < 500


async def test_the_advertised_pkce_and_response_types_are_the_accepted_ones(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser, document: dict[str, Any]
) -> None:
    rp = await relying_party(runtime, organisation_id, first_party=True)
    for method in ("S256", "plain"):
        answer = callback(
            visit(
                open_browser(),
                authorize_path(request_params(rp, code_challenge_method=method, prompt="none")),
            )
        )
        accepted = answer["error"] == "login_required"  # passed validation; nobody signed in
        assert accepted == (method in document["code_challenge_methods_supported"])
    for response_type in ("code", "token", "id_token", "code id_token"):
        answer = callback(
            visit(
                open_browser(),
                authorize_path(request_params(rp, response_type=response_type, prompt="none")),
            )
        )
        accepted = answer["error"] == "login_required"
        assert accepted == (response_type in document["response_types_supported"])


async def test_every_advertised_prompt_and_acr_value_is_accepted(
    runtime: Runtime, organisation_id: str, open_browser: OpenBrowser, document: dict[str, Any]
) -> None:
    rp = await relying_party(runtime, organisation_id, first_party=True)
    for prompt in document["prompt_values_supported"]:
        response = visit(open_browser(), authorize_path(request_params(rp, prompt=prompt)))
        if prompt == "none":
            assert callback(response)["error"] == "login_required"
        else:
            assert response.status_code == 200 and response.url.path == "/authorize/sign-in"
    for acr in document["acr_values_supported"]:
        Vector.parse(acr)
        essential = json.dumps({"id_token": {"acr": {"essential": True, "values": [acr]}}})
        params = request_params(rp, prompt="none", claims=essential)
        assert callback(visit(open_browser(), authorize_path(params)))["error"] == "login_required"


def _key(alg: str) -> Key:
    if alg == "ES256":
        return ECKey.generate_key("P-256")
    if alg == "EdDSA":
        return OKPKey.generate_key("Ed25519")
    return RSAKey.generate_key(2048)


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")  # still what client libraries send
async def test_every_advertised_client_auth_and_request_object_algorithm_is_accepted(
    runtime: Runtime,
    organisation_id: str,
    http: httpx.AsyncClient,
    settings: Settings,
    document: dict[str, Any],
) -> None:
    """private_key_jwt at PAR (the token endpoint's client authentication) with a request
    object, both signed with each advertised algorithm."""
    assert (
        document["request_object_signing_alg_values_supported"]
        == (document["token_endpoint_auth_signing_alg_values_supported"])
    )
    for alg in document["token_endpoint_auth_signing_alg_values_supported"]:
        key = _key(alg)
        public = {**key.as_dict(private=False), "kid": "k", "use": "sig"}
        if alg == "RS256":
            public["alg"] = "RS256"  # PKCS #1 v1.5 only where the client registered it
        data = registration(organisation_id, jwks={"keys": [public]}, scope="openid email")
        client = (await runtime.clients.add(ClientRegistration.build(data), TEST_ACTOR)).client
        rp_params = request_params(await relying_party(runtime, organisation_id))
        now = int(time.time())
        header = {"alg": alg, "kid": "k"}
        assertion = {
            "iss": client.client_id,
            "sub": client.client_id,
            "aud": settings.issuer + "/par",
            "exp": now + 60,
            "jti": str(uuid.uuid4()),
        }
        request = {
            **rp_params,
            "client_id": client.client_id,
            "iss": client.client_id,
            "aud": settings.issuer,
            "exp": now + 60,
        }
        form = {
            "client_id": client.client_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": jwt.encode(header, assertion, key, registry=SIGNING),
            "request": jwt.encode(header, request, key, registry=SIGNING),
        }
        response = await http.post("/par", data=form)
        assert response.status_code == 201, (alg, response.text)


async def test_every_advertised_secret_method_authenticates_at_par(
    runtime: Runtime, organisation_id: str, http: httpx.AsyncClient, document: dict[str, Any]
) -> None:
    secret_methods = [
        m for m in document["token_endpoint_auth_methods_supported"] if m != "private_key_jwt"
    ]
    for method in secret_methods:
        data = registration(
            organisation_id, token_endpoint_auth_method=method, jwks=None, scope="openid"
        )
        issued = await runtime.clients.add(ClientRegistration.build(data), TEST_ACTOR)
        assert issued.secret is not None
        params = {
            **request_params(await relying_party(runtime, organisation_id)),
            "scope": "openid",
        }
        params["client_id"] = issued.client.client_id
        if method == "client_secret_post":
            response = await http.post("/par", data={**params, "client_secret": issued.secret})
        else:
            response = await http.post(
                "/par", data=params, auth=(issued.client.client_id, issued.secret)
            )
        assert response.status_code == 201, (method, response.text)


async def test_every_advertised_id_token_algorithm_can_be_signed(
    runtime: Runtime, document: dict[str, Any]
) -> None:
    for alg in document["id_token_signing_alg_values_supported"]:
        token = runtime.keys.sign({"sub": "x"}, alg=alg)
        assert runtime.keys.verify(token, algorithms=[alg])["claims"] == {"sub": "x"}
