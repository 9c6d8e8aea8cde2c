"""A client's keys from its jwks_uri: fetched through the injectable transport, cached,
fetched again once for a kid the cached copy lacks, and refused when unsafe or too large."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from gateway.clients.models import AuthMethod, Client, ClientRegistration, GrantType, IdTokenAlg
from gateway.oidc.errors import InvalidClientError
from gateway.runtime import Runtime
from gateway.tokens.client_auth import ASSERTION_TYPE, ClientAuthenticator
from gateway.tokens.client_keys import MAX_JWKS_BYTES, ClientKeys
from tests.conftest import TEST_ACTOR
from tests.gateway.clients.support import registration
from tests.gateway.tokens.support import Kit, assertion, new_ec_key

JWKS_URI = "https://keys.anytown.example/jwks.json"


class KeyServer(httpx.AsyncBaseTransport):
    """The council's key endpoint, in process: serves ``document`` and counts requests."""

    def __init__(self, document: Any, status: int = 200) -> None:
        self.document = document
        self.status = status
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        body = self.document if isinstance(self.document, bytes) else json.dumps(self.document)
        return httpx.Response(self.status, content=body)


def _client(jwks_uri: str = JWKS_URI) -> Client:
    now = datetime.now(UTC)
    return Client(
        client_id="cli_" + "K" * 22,
        organisation_id="org_" + "A" * 22,
        client_name="Anytown",
        redirect_uris=("https://anytown.example/cb",),
        post_logout_redirect_uris=(),
        backchannel_logout_uri=None,
        grant_types=(GrantType.AUTHORIZATION_CODE,),
        scope="openid",
        token_endpoint_auth_method=AuthMethod.PRIVATE_KEY_JWT,
        jwks=None,
        jwks_uri=jwks_uri,
        sector_identifier="anytown.example",
        min_level=None,
        id_token_signed_response_alg=IdTokenAlg.ES256,
        first_party=False,
        require_par=False,
        require_dpop=False,
        secret_hash=None,
        created_at=now,
        updated_at=now,
    )


def _public(kid: str) -> dict[str, Any]:
    return {**new_ec_key().as_dict(private=False), "kid": kid}


async def test_keys_are_fetched_once_and_served_from_the_cache() -> None:
    server = KeyServer({"keys": [_public("a")]})
    keys = ClientKeys(server)
    first = await keys.keyset(_client(), kid="a")
    second = await keys.keyset(_client(), kid="a")
    assert [k.kid for k in first] == ["a"] and first == second
    assert server.requests == 1


async def test_an_unknown_kid_fetches_the_set_again_once() -> None:
    server = KeyServer({"keys": [_public("a")]})
    keys = ClientKeys(server, refetch_interval=0)
    await keys.keyset(_client(), kid="a")
    server.document = {"keys": [_public("a"), _public("b")]}
    rotated = await keys.keyset(_client(), kid="b")
    assert {k.kid for k in rotated} == {"a", "b"} and server.requests == 2


async def test_unknown_kids_cannot_make_the_gateway_fetch_on_every_request() -> None:
    server = KeyServer({"keys": [_public("a")]})
    keys = ClientKeys(server, refetch_interval=60)
    for kid in ("a", "x", "y", "z"):
        await keys.keyset(_client(), kid=kid)
    assert server.requests == 1


async def test_a_set_holding_a_private_key_is_refused() -> None:
    private = new_ec_key().as_dict(private=True)
    keys = ClientKeys(KeyServer({"keys": [private]}))
    with pytest.raises(InvalidClientError, match="private"):
        await keys.keyset(_client())


async def test_a_symmetric_key_is_never_used() -> None:
    keys = ClientKeys(KeyServer({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}))
    with pytest.raises(InvalidClientError, match="private or symmetric"):
        await keys.keyset(_client())


async def test_an_oversized_answer_is_refused() -> None:
    keys = ClientKeys(KeyServer(b" " * (MAX_JWKS_BYTES + 1)))
    with pytest.raises(InvalidClientError, match="more than"):
        await keys.keyset(_client())


async def test_an_error_status_is_refused() -> None:
    keys = ClientKeys(KeyServer({"keys": []}, status=503))
    with pytest.raises(InvalidClientError, match="503"):
        await keys.keyset(_client())


async def test_an_unreachable_jwks_uri_is_invalid_client() -> None:
    class Down(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused", request=request)

    with pytest.raises(InvalidClientError, match="could not be fetched"):
        await ClientKeys(Down()).keyset(_client())


async def test_an_assertion_verifies_with_a_key_served_at_the_jwks_uri(
    runtime: Runtime, organisation_id: str
) -> None:
    key = new_ec_key()
    registered = registration(
        organisation_id, jwks=None, jwks_uri=JWKS_URI, grant_types=["client_credentials"]
    )
    registered["redirect_uris"] = []
    client = (await runtime.clients.add(ClientRegistration.build(registered), TEST_ACTOR)).client
    server = KeyServer({"keys": [{**key.as_dict(private=False), "kid": "key-1"}]})
    authenticator = ClientAuthenticator(
        runtime.clients,
        ClientKeys(server),
        runtime.redis,
        runtime.clock,
        issuer=runtime.settings.issuer,
        token_endpoint=runtime.settings.issuer + "/token",
    )
    kit = Kit(client, key=key)
    form = {
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion(kit, runtime.settings.issuer),
    }
    found = await authenticator.authenticate(form, None, endpoint=runtime.settings.issuer + "/par")
    assert found.client_id == client.client_id and server.requests == 1


async def test_a_registered_set_is_parsed_once_per_content() -> None:
    keys = ClientKeys()
    first = {"keys": [{**new_ec_key().as_dict(private=False), "kid": "key-1"}]}
    second = {"keys": [{**new_ec_key().as_dict(private=False), "kid": "key-1"}]}
    client = replace(_client(), jwks=first, jwks_uri=None)
    parsed = await keys.keyset(client)
    assert await keys.keyset(replace(client, jwks=json.loads(json.dumps(first)))) is parsed
    changed = await keys.keyset(replace(client, jwks=second))
    assert changed is not parsed
    assert changed.keys[0].as_dict()["x"] == second["keys"][0]["x"]
